import Foundation

/// Writing to stdout and stderr without buffering, so lines show up (and can be read by a pipe) at once.
enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data("moonwire: \(text)\n".utf8))
    }
}
