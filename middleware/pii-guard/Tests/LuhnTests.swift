import PIIGuardLogic
import Testing

@Suite("Luhn")
struct LuhnTests {
    @Test("accepts valid card numbers", arguments: [
        "4111111111111111", "5555 5555 5555 4444", "3782-822463-10005", "6011111111111117", "4222222222222", "0",
    ])
    func valid(number: String) {
        #expect(Luhn.isValid(number))
    }

    @Test("rejects invalid numbers", arguments: ["4111111111111112", "1234567812345678", "79927398710", "", "4111x111"])
    func invalid(number: String) {
        #expect(!Luhn.isValid(number))
    }
}
