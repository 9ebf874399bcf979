"""The HTTP API for bots: the OpenAI-compatible and sessions routes, their schemas, error shape,
key gate and guards, health probes, and the stateless-client transcript."""
