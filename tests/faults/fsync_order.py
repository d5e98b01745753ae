"""The checkpoint writer's system calls, traced with strace: the temp file is written
and fsynced before the rename over the checkpoint, and the directory is opened and
fsynced after it (so the rename itself survives a power cut).
   fsync_order.py STRACE mixgcn-train [flags...]
Exits 77 (ctest skip) when strace cannot trace here (no ptrace permission)."""
import os
import re
import subprocess
import sys
import tempfile

strace, train, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
with tempfile.TemporaryDirectory() as work:
    ck = os.path.join(work, "model.ck")
    log = os.path.join(work, "trace")
    cmd = [strace, "-f", "-qq", "-o", log, "-e", "trace=openat,open,write,fsync,fdatasync,close,rename,renameat,renameat2",
           train, "--epochs", "2", "--checkpoint", ck, "--checkpoint-every", "2", "--quiet"] + flags
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        if "ptrace" in r.stderr or "Operation not permitted" in r.stderr:
            print("strace cannot trace here:", r.stderr.strip())
            sys.exit(77)
        sys.exit(f"the traced run failed ({r.returncode}): {r.stderr}")
    calls = [re.sub(r"^\d+\s+", "", line.rstrip("\n")) for line in open(log)]

tmp_open = next((i for i, c in enumerate(calls) if re.match(r'open(at)?\(.*"' + re.escape(ck) + r'\.tmp\.\d+"', c)), None)
assert tmp_open is not None, "no open of the temp file:\n" + "\n".join(calls[-30:])
tmp_fd = re.search(r"= (\d+)$", calls[tmp_open]).group(1)
rename = next((i for i, c in enumerate(calls) if i > tmp_open and re.match(r"rename(at2?)?\(.*" + re.escape(ck) + r'"', c)), None)
assert rename is not None, "no rename over the checkpoint"
writes = [i for i in range(tmp_open, rename) if calls[i].startswith(f"write({tmp_fd},")]
fsync = [i for i in range(tmp_open, rename) if re.match(rf"f(data)?sync\({tmp_fd}\)\s*=\s*0", calls[i])]
close = [i for i in range(tmp_open, rename) if calls[i].startswith(f"close({tmp_fd})")]
assert writes, "the temp file was never written"
assert fsync and fsync[0] > writes[-1], "the temp file is not fsynced after its last write and before the rename"
assert close and close[0] > fsync[0], "the temp file is not closed after its fsync, before the rename"
dir_open = next((i for i, c in enumerate(calls) if i > rename and re.match(r'open(at)?\(.*"' + re.escape(work) + r'".*O_DIRECTORY', c)), None)
assert dir_open is not None, "the directory is not opened after the rename"
dir_fd = re.search(r"= (\d+)$", calls[dir_open]).group(1)
assert any(re.match(rf"f(data)?sync\({dir_fd}\)\s*=\s*0", c) for c in calls[dir_open:]), "the directory is not fsynced"
print("write -> fsync(temp) -> close -> rename -> open(dir) -> fsync(dir): in order")
for i in [writes[-1], fsync[0], close[0], rename, dir_open]:
    print("  ", calls[i][:160])
