"""What responders and judges share to reach a model: the OpenAI-compatible client, its rate
limits and its response cache."""
