"""Stand-in for ``modules.paths_internal``: the data folder and the default outputs folder under it."""

from __future__ import annotations

import os

from modules.shared_cmd_options import cmd_opts

data_path = os.path.abspath(cmd_opts.data_dir)
default_output_dir = os.path.join(data_path, "outputs")
