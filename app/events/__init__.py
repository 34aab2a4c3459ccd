"""Message topics on the broker (docs/events.md): the outbox relay and the consumer of incoming topics."""
