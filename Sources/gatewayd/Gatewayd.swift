import ArgumentParser

@main
struct Gatewayd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatewayd",
        abstract: "A self-hosted event gateway: durable ingest, signed webhook fan-out.",
        subcommands: [Serve.self, JournalCommand.self, Listen.self],
        defaultSubcommand: Serve.self
    )
}
