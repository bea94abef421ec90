"""Language detection on short support messages: the seven languages we serve, abstentions, determinism."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eval.ingest import language
from eval.ingest.language import detect_language

MESSAGES = [
    ("en", "I was charged twice for my subscription this month. Can you refund one of the payments please?"),
    ("en", "The app crashes when I open settings. I already reinstalled it twice."),
    ("fr", "J'ai été débité deux fois pour mon abonnement ce mois-ci. Pouvez-vous rembourser un des paiements ?"),
    ("fr", "Je n'arrive plus à me connecter depuis hier. Le mot de passe est refusé."),
    ("de", "Mir wurde mein Abo diesen Monat zweimal abgebucht. Können Sie eine der Zahlungen erstatten?"),
    ("de", "Ich kann mich seit gestern nicht mehr anmelden. Das Passwort wird abgelehnt."),
    ("es", "Me han cobrado dos veces la suscripción este mes. ¿Pueden devolverme uno de los pagos?"),
    ("es", "Mi pedido todavía no ha llegado. El seguimiento dice que se entregó ayer."),
    ("it", "Mi è stato addebitato due volte l'abbonamento questo mese. Potete rimborsare uno dei pagamenti?"),
    ("it", "Non riesco ad accedere da ieri. La password viene rifiutata."),
    ("nl", "Ik ben deze maand twee keer gefactureerd voor mijn abonnement. Kunnen jullie een betaling terugstorten?"),
    ("nl", "Ik kan sinds gisteren niet meer inloggen. Het wachtwoord wordt geweigerd."),
    ("pt", "Fui cobrado duas vezes pela assinatura este mês. Vocês podem reembolsar um dos pagamentos?"),
    ("pt", "Não consigo entrar na minha conta desde ontem. A senha é recusada."),
]


@pytest.mark.parametrize(("expected", "text"), MESSAGES)
def test_detects_the_language(expected: str, text: str) -> None:
    assert detect_language(text) == expected


def test_links_addresses_and_markers_do_not_count() -> None:
    """A support text full of links and attachment markers is judged on its words."""
    text = (
        "Bonjour, la facture https://billing.example.com/invoices/4821?download=1 est fausse. "
        "[image] [attachment: facture_mars_2025.pdf] Écrivez-moi à marie.dupont@example.fr svp."
    )
    assert detect_language(text) == "fr"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Hello, help please", id="under-20-letters"),
        pytest.param("Order #4821 / 555-0100 / 2025-03-03", id="digits"),
        pytest.param("https://example.com/a/very/long/path/with/many/words jane.doe@example.com [image]", id="noise"),
        pytest.param("Hola merci danke thanks grazie obrigado", id="not-sure"),
    ],
)
def test_abstains(text: str) -> None:
    assert detect_language(text) is None


class _Fixed:
    def __init__(self, answer: tuple[str, float]) -> None:
        self.answer = answer

    def classify(self, _: str) -> tuple[str, float]:
        return self.answer


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(("pcm", 0.99), None), (("zxx", 0.99), None), (("en", 0.79), None), (("en", 0.8), "en")],
)
def test_only_confident_iso_639_1_answers(
    monkeypatch: pytest.MonkeyPatch, answer: tuple[str, float], expected: str | None
) -> None:
    monkeypatch.setattr(language, "_identifier", lambda: _Fixed(answer))
    assert detect_language("a text long enough to be judged") == expected


_CHILD = """
import json, sys
from eval.ingest import language
loaded_on_import = language._identifier.cache_info().currsize
answers = [language.detect_language(text) for text in json.load(sys.stdin)]
print(json.dumps({"loaded_on_import": loaded_on_import, "answers": answers}))
"""


def test_same_answers_in_another_process_and_model_loaded_lazily() -> None:
    texts = [text for _, text in MESSAGES] + ["Hola merci danke thanks grazie obrigado"]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD], input=json.dumps(texts), capture_output=True, text=True, check=True, timeout=120
    )
    result = json.loads(child.stdout)
    assert result == {"loaded_on_import": 0, "answers": [detect_language(text) for text in texts]}
    assert result["answers"] == [code for code, _ in MESSAGES] + [None]
