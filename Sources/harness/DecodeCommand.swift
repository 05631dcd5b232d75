import ArgumentParser
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decode", abstract: "Explain ESR/FAR/HPFAR.")
}
