"""qlab: the Python client of qlab-server (docs/python.md).

    import qlab
    c = qlab.Client()                      # $QLAB_SERVER, $QLAB_TOKEN
    df = c.sweep_results(c.wait(c.submit("examples/studies/cfg-ladder.json")))

Standard library only; tables are pandas DataFrames when pandas is
installed, lists of dicts otherwise.
"""
from .client import Client, Error

__all__ = ["Client", "Error"]
__version__ = "0.1.0"
