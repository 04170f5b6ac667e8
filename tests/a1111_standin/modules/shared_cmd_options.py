"""Stand-in for ``modules.shared_cmd_options``: ``cmd_opts``, the WebUI's parsed command line.

Only the flags Abysz LAB reads, with A1111 1.10's names and defaults (modules/cmd_args.py);
parsed from an empty command line, so tests set attributes (``cmd_opts.listen = True``).
"""

from __future__ import annotations

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--listen", action="store_true", help="launch gradio with 0.0.0.0 as server name")
parser.add_argument("--share", action="store_true", help="use share=True for gradio")
parser.add_argument("--server-name", type=str, default=None, help="sets hostname of server")
parser.add_argument("--port", type=int, default=None, help="launch gradio with given server port")
parser.add_argument("--hide-ui-dir-config", action="store_true", default=False, help="hide directory configuration")
parser.add_argument("--gradio-auth", type=str, default=None, help='set gradio authentication like "user:pw"')
parser.add_argument("--api", action="store_true", help="use api=True to launch the API together with the webui")
parser.add_argument("--api-auth", type=str, default=None, help='set authentication for API like "username:password"')
parser.add_argument("--data-dir", type=str, default=".", help="base path where all user data is stored")

cmd_opts = parser.parse_args([])
