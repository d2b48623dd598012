"""``openmyna number …``"""

from __future__ import annotations

import typer
from rich.console import Console

from openmyna.numbers import formats

app = typer.Typer(help="Check numbers and codes.", no_args_is_help=True)
console = Console()


@app.command("check")
def check(
    number: str = typer.Argument(..., help="A My Number, corporate number, resident or municipality code"),
) -> None:
    """Print whether NUMBER is valid and why; exit 1 when it is not."""
    result = formats.check_any(number)
    if result.valid:
        console.print(f"[green]valid[/green] {result.kind}: {result.formatted} ({result.reason})")
        return
    console.print(f"[red]invalid[/red] {result.kind}: {result.reason}")
    raise typer.Exit(code=1)
