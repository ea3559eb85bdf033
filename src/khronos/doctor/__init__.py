"""``khronos doctor``: check that everything ``khronos.yml`` names works on this machine.

Litestream and its version; each database (exists, WAL mode); each replica (a list call with
the configured credentials); Telegram (getMe, getChat); disk space; the clock against the
object store; the HTTP port; the permissions of ``state_dir`` and the rendered Litestream
config; the environment (unset variables, ``AWS_CA_BUNDLE``, TLS and proxy variables).  Each
finding is ok, info, warn or error, with the fix.

>>> from khronos.doctor import Finding, Status
>>> Finding("litestream", Status.OK, "Litestream v0.5.2").to_json()["status"]
'ok'
"""

from khronos.doctor._model import Finding, Status
from khronos.doctor._run import CHECKS, DEFAULT_TIMEOUT, run_doctor

__all__ = ["CHECKS", "DEFAULT_TIMEOUT", "Finding", "Status", "run_doctor"]
