from aimall_cart.cli import app

app()
