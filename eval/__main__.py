from eval.cli import app

app(prog_name="support-eval")
