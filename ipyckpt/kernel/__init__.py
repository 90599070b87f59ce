"""Everything that needs IPython: the magics, the instrumented-cell runner, shutdown snapshots and
the JupyterLab comm channel. Loaded by ``%load_ext ipyckpt``, never by ``import ipyckpt``."""
