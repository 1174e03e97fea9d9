/// The digit groups of one run such as "4111 1111-22": group boundaries and the separator
/// before each group. Reused across runs so that scanning does not allocate.
struct DigitGroups {
    private var starts: [Int] = []
    private var ends: [Int] = []
    private var separators: [UInt8] = []  // separators[i] precedes group i; 0 for the first

    /// The most groups one run may have; longer runs are cut (no card has more than 19).
    static let maximumGroups = 24

    var count: Int { starts.count }
    func start(_ group: Int) -> Int { starts[group] }
    func end(_ group: Int) -> Int { ends[group] }
    func length(_ group: Int) -> Int { ends[group] - starts[group] }
    func separator(before group: Int) -> UInt8 { separators[group] }

    /// The group's digits as a number (groups of at most 4 digits are asked for).
    func value(_ group: Int, in bytes: UnsafeRawBufferPointer) -> Int {
        var result = 0
        for index in starts[group]..<ends[group] {
            result = result * 10 + Int(bytes[index] - UInt8(ascii: "0"))
        }
        return result
    }

    /// Where the run starting at `from` ends and how many digits it holds: what ``parse(_:from:to:)``
    /// would find, without recording the groups. Lets a scan skip, without bookkeeping, the
    /// many short runs (amounts, dates, ids) that cannot hold a card or an SSN.
    static func measure(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> (end: Int, digits: Int) {
        var index = from
        var digits = 0
        var groups = 0
        while true {
            let groupStart = index
            while index < to && ASCII.isDigit(bytes[index]) {
                index += 1
            }
            digits += index - groupStart
            groups += 1
            guard groups < maximumGroups, index + 1 < to else { break }
            let next = bytes[index]
            guard (next == UInt8(ascii: " ") || next == UInt8(ascii: "-")) && ASCII.isDigit(bytes[index + 1]) else {
                break
            }
            index += 1
        }
        return (index, digits)
    }

    /// Parses the run starting at `from`; returns where it ends.
    mutating func parse(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int {
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        separators.removeAll(keepingCapacity: true)
        var index = from
        var separator: UInt8 = 0
        while true {
            let groupStart = index
            while index < to && ASCII.isDigit(bytes[index]) {
                index += 1
            }
            starts.append(groupStart)
            ends.append(index)
            separators.append(separator)
            guard starts.count < DigitGroups.maximumGroups, index + 1 < to else { break }
            let next = bytes[index]
            guard (next == UInt8(ascii: " ") || next == UInt8(ascii: "-")) && ASCII.isDigit(bytes[index + 1]) else {
                break
            }
            separator = next
            index += 1
        }
        return index
    }
}
