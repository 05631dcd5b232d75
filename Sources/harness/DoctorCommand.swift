import ArgumentParser
// Owner: KVM layer. Placeholder until `harness doctor` lands.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Can this host run the nested tests?")
}
