"""Message cleaning: whole outputs on the messy bodies helpdesk exports hold (Zendesk HTML, Gmail, Outlook and
Apple Mail replies in English, French, German and Spanish, signatures, attachments)."""

from __future__ import annotations

import pytest

from eval.ingest.clean import attachment_line, clean_message, html_to_text, strip_quoted, strip_signature

ZENDESK_HTML = """<div class="zd-comment" dir="auto"><p>Hi&nbsp;team,</p>
<p>I can&#39;t log in since the update &mdash; see <a href="https://app.example.com/login" rel="noreferrer">the login
page</a> and <a href="https://status.example.com">https://status.example.com</a>.<br>It says &quot;invalid token&quot;
&amp; then logs me out &lt;again&gt;.</p>
<p><img src="https://cdn.example.com/shot.png" alt="shot.png" width="300"></p>
<ul><li>Chrome 121</li><li>Windows&nbsp;11</li></ul>
<p>&nbsp;</p><p></p><br><br>
<p>Order <b>#4821</b>    placed on <i>3&nbsp;March</i>.   </p></div>"""


def test_html_to_text_zendesk_comment() -> None:
    assert html_to_text(ZENDESK_HTML) == (
        "Hi team,\n"
        "\n"
        "I can't log in since the update — see the login page and https://status.example.com.\n"
        'It says "invalid token" & then logs me out <again>.\n'
        "\n"
        "[image]\n"
        "\n"
        "  • Chrome 121\n"
        "  • Windows 11\n"
        "\n"
        "Order #4821 placed on 3 March."
    )


def test_html_to_text_email_document() -> None:
    """Head, styles, scripts, comments and tracking pixels leave nothing; <br><br> and <pre> keep their layout."""
    html = (
        '<html><head><meta charset="utf-8"><title>Re: refund</title><style>p {margin:0}</style></head>'
        "<body><!--[if mso]><p>Outlook only</p><![endif]--><script>track()</script>"
        "<div>Hello,<br><br>the export fails:<br></div><pre>  Error 500\n    at export()</pre>"
        '<ol><li>open Reports</li><li>click <a href="/x">Export</a><img src="i.png"></li></ol>'
        '<img src="https://t.example.com/open.gif" width="1" height="1"></body></html>'
    )
    assert html_to_text(html) == (
        "Hello,\n\nthe export fails:\n  Error 500\n    at export()\n  1. open Reports\n  2. click Export [image]"
    )


def test_html_to_text_keeps_deeply_nested_text() -> None:
    """Long e-mail threads nest a blockquote per reply; deep nesting must not lose the text."""
    html = "<p>top</p>" + "<blockquote>" * 600 + "deep" + "</blockquote>" * 600 + "<p>after</p>"
    assert html_to_text(html) == "top\n\ndeep\n\nafter"


def test_html_to_text_survives_a_lone_surrogate() -> None:
    assert html_to_text("<p>Great \ud83d job</p>") == "Great \ufffd job"


@pytest.mark.parametrize("html", ["", "   \n ", "<p></p><br>", "<!-- nothing -->", "<p>&nbsp;</p>"])
def test_html_to_text_without_text(html: str) -> None:
    assert html_to_text(html) == ""


QUOTED = [
    pytest.param(
        "Hi, still broken after the update.\n\nOn Mon, 3 Mar 2025 at 10:02, Support <support@example.com> wrote:\n\n"
        "> Hi Jane,\n> please clear the cache.\n",
        "Hi, still broken after the update.",
        id="gmail-en",
    ),
    pytest.param(
        "Still broken.\n\nOn Mon, 3 Mar 2025 at 10:02, Example Support Team <support-team@example.com>\nwrote:\n\n"
        "> Hi Jane,\n",
        "Still broken.",
        id="gmail-en-wrapped",
    ),
    pytest.param(
        "Works now, thanks!\n\nSent from my iPhone\n\nOn 3 Mar 2025, at 10:02, Jane Doe <jane@example.com> wrote:\n\n"
        "Hello, try again",
        "Works now, thanks!\n\nSent from my iPhone",
        id="apple-mail-en",
    ),
    pytest.param(
        "Thanks, that fixed it.\n\n________________________________\nFrom: Support <support@example.com>\n"
        "Sent: Monday, March 3, 2025 10:02 AM\nTo: Jane Doe <jane@example.com>\nSubject: RE: Login\n\nHi Jane,\n",
        "Thanks, that fixed it.",
        id="outlook-en",
    ),
    pytest.param(
        "See below.\n\n-----Original Message-----\nFrom: Jane\nPlease help",
        "See below.",
        id="original-message",
    ),
    pytest.param(
        "Bonjour, c'est toujours pareil.\n\nLe lun. 3 mars 2025 à 10:02, Support <support@example.com> a écrit\u00a0:\n"
        "> Bonjour,\n> pouvez-vous réessayer ?",
        "Bonjour, c'est toujours pareil.",
        id="gmail-fr",
    ),
    pytest.param(
        "Merci, c'est réglé.\n\nDe : Support <support@example.com>\nEnvoyé : lundi 3 mars 2025 10:02\n"
        "À : Marie Dupont <marie@example.fr>\nObjet : RE: Facture\n\nBonjour Marie,",
        "Merci, c'est réglé.",
        id="outlook-fr",
    ),
    pytest.param(
        "Hallo, es geht immer noch nicht.\n\nAm 03.03.2025 um 10:02 schrieb Support <support@example.com>:\n\n"
        "> Hallo Hans,\n",
        "Hallo, es geht immer noch nicht.",
        id="apple-mail-de",
    ),
    pytest.param(
        "Danke, erledigt.\n\nVon: Support <support@example.com>\nGesendet: Montag, 3. März 2025 10:02\n"
        "An: Hans Müller <hans@example.de>\nBetreff: AW: Rechnung\n\nHallo Hans,",
        "Danke, erledigt.",
        id="outlook-de",
    ),
    pytest.param(
        "Hola, sigue sin funcionar.\n\nEl lun, 3 mar 2025 a las 10:02, Support (<support@example.com>) escribió:\n"
        "> Hola Pedro,",
        "Hola, sigue sin funcionar.",
        id="gmail-es",
    ),
    pytest.param(
        "Gracias, ya funciona.\n\nDe: Support <support@example.com>\nEnviado: lunes, 3 de marzo de 2025 10:02\n"
        "Para: Pedro García <pedro@example.es>\nAsunto: RE: Pedido\n\nHola Pedro,",
        "Gracias, ya funciona.",
        id="outlook-es",
    ),
    pytest.param(
        "Answers inline.\n\nJane wrote:\n> Which browser?\nFirefox 124.\n> Which plan?\nPro.",
        "Answers inline.\n\nFirefox 124.\nPro.",
        id="inline-replies",
    ),
]


@pytest.mark.parametrize(("text", "expected"), QUOTED)
def test_strip_quoted(text: str, expected: str) -> None:
    assert strip_quoted(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("> I was charged twice\n> for March.", id="only-a-quote"),
        pytest.param("On Mon, 3 Mar 2025 at 10:02, Jane <jane@example.com> wrote:\n> Hello", id="only-an-attribution"),
        pytest.param("Sorry for the delay.\nOn Monday my colleague wrote:\nthe export fails on every report.", id="no-date"),
        pytest.param("My booking:\nFrom: London\nDate: 3 March 2025\nTo: Paris\nPlease move it.", id="travel-fields"),
    ],
)
def test_strip_quoted_keeps_what_is_not_a_quote(text: str) -> None:
    assert strip_quoted(text) == text


SIGNED = [
    pytest.param(
        "Can you reset my password?\n\nBest regards,\nJane Doe\nHead of Operations\nAcme Corp\n+1 555 0100",
        "Can you reset my password?",
        id="closing-block-en",
    ),
    pytest.param("Please refund order 4821.\n\nThanks, Jane", "Please refund order 4821.", id="thanks-name-same-line"),
    pytest.param("Text here.\n-- \nJane Doe\nAcme | www.acme.example\n", "Text here.", id="rfc3676-delimiter"),
    pytest.param("Please help.\n\nSent from my iPhone", "Please help.", id="sent-from-en"),
    pytest.param("Aidez-moi svp.\n\nEnvoyé de mon iPhone", "Aidez-moi svp.", id="sent-from-fr"),
    pytest.param(
        "Bitte helfen Sie mir.\n\nMit freundlichen Grüßen\nHans Müller\n\nVon meinem iPhone gesendet",
        "Bitte helfen Sie mir.",
        id="closing-and-sent-from-de",
    ),
    pytest.param("Geht wieder.\n\nViele Grüße\nHans", "Geht wieder.", id="viele-gruesse"),
    pytest.param("Merci pour votre aide.\nCordialement,\nMarie Dupont", "Merci pour votre aide.", id="cordialement"),
    pytest.param("La facture est fausse.\n\nBien à vous,\nMarie", "La facture est fausse.", id="bien-a-vous"),
    pytest.param("No funciona.\n\nEnviado desde mi iPhone", "No funciona.", id="sent-from-es"),
    pytest.param("El pedido no llegó.\n\nUn saludo,\nPedro García\nAcme", "El pedido no llegó.", id="un-saludo"),
    pytest.param("Adjunto la factura.\n\nAtentamente,\nPedro", "Adjunto la factura.", id="atentamente"),
    pytest.param(
        "Still broken.\n\nThanks!\n\nCheers,\nJane", "Still broken.", id="two-valedictions"
    ),
    pytest.param("Gracias.\n\nUn saludo,\nPedro", "Gracias.", id="stops-before-nothing-is-left"),
]


@pytest.mark.parametrize(("text", "expected"), SIGNED)
def test_strip_signature(text: str, expected: str) -> None:
    assert strip_signature(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "Hi,\nThanks,\nI tried your steps and the export still fails with error 500 each time I click it.\nAny idea?",
            id="thanks-mid-message",
        ),
        pytest.param("Hi,\nThanks, that fixed it", id="thanks-sentence-at-end"),
        pytest.param(
            "Fine.\nThanks,\nJane\nAlso the export fails on Android since today.", id="sentence-after-the-name"
        ),
        pytest.param("Hi,\n\nThanks,\nJane\nOps\nAcme\n+1 555 0100\nwww.acme.example", id="five-lines-after"),
        pytest.param("Thanks!", id="only-a-valediction"),
        pytest.param("-- \nJane Doe", id="only-a-signature"),
    ],
)
def test_strip_signature_keeps(text: str) -> None:
    assert strip_signature(text) == text


GMAIL_HTML = (
    '<div dir="ltr">Hi,<br><br>Still not working after the update.<br><br>Best,<br>Jane</div><br>'
    '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, 3 Mar 2025 at 10:02, Support &lt;'
    '<a href="mailto:support@example.com">support@example.com</a>&gt; wrote:<br></div>'
    '<blockquote class="gmail_quote">Hi Jane,<br>please clear the cache.<br><br>Best regards,<br>Support</blockquote></div>'
)
OUTLOOK_HTML = (
    '<html><head><style type="text/css">P {margin-top:0;}</style></head><body dir="ltr">'
    "<div>Merci, c'est réglé.</div><div>Cordialement,<br>Marie Dupont</div><hr>"
    '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>De :</b> Support &lt;support@example.com&gt;<br>'
    "<b>Envoyé :</b> lundi 3 mars 2025 10:02<br><b>À :</b> Marie Dupont &lt;marie@example.fr&gt;<br>"
    "<b>Objet :</b> RE: Facture</font><div>&nbsp;</div></div><div>Bonjour Marie, ...</div></body></html>"
)


def test_clean_message_gmail_html_with_attachments() -> None:
    assert clean_message(GMAIL_HTML, is_html=True, attachments=["error.png", "export log.txt"]) == (
        "Hi,\n\nStill not working after the update.\n[attachment: error.png]\n[attachment: export log.txt]"
    )


def test_clean_message_outlook_html() -> None:
    assert clean_message(OUTLOOK_HTML, is_html=True) == "Merci, c'est réglé."


def test_clean_message_zendesk_html() -> None:
    body = "<p>Hello,</p><p>the invoice is wrong.<br>Can you fix it?</p><p>Thanks,<br>Marc<br>Acme Ltd.</p>"
    assert clean_message(body, is_html=True, attachments=["invoice.pdf"]) == (
        "Hello,\n\nthe invoice is wrong.\nCan you fix it?\n[attachment: invoice.pdf]"
    )


def test_clean_message_normalises_whitespace() -> None:
    body = (
        "\r\n\r\n  \r\nHi\u00a0there,   \r\n\r\n\r\n\r\nmy\u200b order\ufeff is late.\u202f\r\n\t\r\n"
        "Thanks,\r\nJane\r\n\r\nOn Tue, 4 Mar 2025 at 09:00, Support <s@example.com> wrote:\r\n> old\r\n"
    )
    assert clean_message(body, is_html=False) == "Hi there,\n\nmy order is late."


def test_clean_message_only_a_quote_is_kept() -> None:
    body = "\n> I was charged twice   \n> for March.\n\n"
    assert clean_message(body, is_html=False) == "> I was charged twice\n> for March."


def test_clean_message_attachments_without_text() -> None:
    assert clean_message("", is_html=False, attachments=["a.png", "b.pdf"]) == "[attachment: a.png]\n[attachment: b.pdf]"
    assert clean_message("<p>&nbsp;</p>", is_html=True, attachments=["scan.jpg"]) == "[attachment: scan.jpg]"


@pytest.mark.parametrize(("body", "is_html"), [("", False), (" \r\n\u200b\n", False), ("<div><br></div>", True)])
def test_clean_message_nothing_at_all(body: str, is_html: bool) -> None:
    assert clean_message(body, is_html=is_html) == ""


def test_attachment_line() -> None:
    assert attachment_line("report.pdf") == "[attachment: report.pdf]"
    assert attachment_line("  my\nscan .png ") == "[attachment: my scan .png]"
    assert attachment_line(" ") == "[attachment: unnamed]"
