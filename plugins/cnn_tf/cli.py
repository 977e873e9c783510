"""``massbench cnn ...``: inspect the TensorFlow CNN of the paper (sections 4 and 5.1)."""

from __future__ import annotations

import typer

app = typer.Typer(help="TensorFlow CNN estimators (cnn-single-band, cnn-multi-band).", no_args_is_help=True)


@app.command("summary")
def summary(
    bands: int = typer.Option(1, help="input channels: 1 (cnn-single-band) or 3 (cnn-multi-band)"),
    size: int = typer.Option(128, help="map side in pixels"),
    dropout: float = typer.Option(0.0, help="dropout after each hidden dense layer (cnn-multi-band: 0.1)"),
) -> None:
    """Print the Keras summary and parameter count of the paper's architecture."""
    from massbench.errors import UserError

    from .architecture import ArchitectureConfig, model_summary, parameter_count

    if bands < 1 or size < 8:
        raise UserError(f"--bands must be >= 1 and --size >= 8 (got {bands}, {size})")
    cfg = ArchitectureConfig(dropout=dropout)
    shape = (size, size, bands)
    typer.echo(model_summary(shape, cfg))
    typer.echo(f"parameters: {parameter_count(shape, cfg):,} for input {size}x{size}x{bands}")
