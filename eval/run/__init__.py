"""The run: its folder (every artifact path named once), the stages it chains, the manifest,
and the one checkpointed batch loop every stage writes through. Nothing is imported here."""
