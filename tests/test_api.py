"""The public API: every name in ``eval.__all__`` resolves to the stage function it names."""

import eval


def test_every_public_name_resolves() -> None:
    for name in eval.__all__:
        assert callable(getattr(eval, name)) or isinstance(getattr(eval, name), type), name
    assert eval.replay_to_file.__module__ == "eval.replay.stage"
    assert eval.decide_to_file.__module__ == "eval.decide"
