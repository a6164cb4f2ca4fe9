import ArgumentParser

@main
struct Gatewayd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatewayd",
        abstract: "A self-hosted event gateway: durable ingest, signed webhook fan-out.",
        subcommands: [Serve.self, ConfigCommand.self, Listen.self, JournalCommand.self],
        defaultSubcommand: Serve.self
    )
}
