/// What a step of an HTTP exchange tells Envoy to do next.
public enum Action: UInt32, Sendable {
    /// Pass what this step saw on to the next filter.
    case `continue` = 0
    /// Hold it.
    ///
    /// - For a body chunk, Envoy buffers it and calls the body step again with everything
    ///   buffered so far; a middleware reads or replaces the whole body once `endOfStream` is
    ///   true. The headers have already gone on by then (see below), so keep the body's length
    ///   or adjust `content-length` in the header step.
    /// - For headers, Envoy stops the whole stream, body included: no body step runs until the
    ///   module calls ``HTTPContext/resumeRequest()`` (or ``HTTPContext/resumeResponse()``).
    ///   proxy-wasm-cpp-host turns a header `StopIteration` into `StopAllIterationAndWatermark`
    ///   on purpose. Pause headers only while waiting for something that will resume them, such
    ///   as a callout's response.
    case pause = 1
}
