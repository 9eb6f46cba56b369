#!/usr/bin/env python3
"""freeport.py USED_FILE: prints a TCP port on 127.0.0.1 that nothing uses now
and that USED_FILE (one port a line) does not list, and adds it there. It is
drawn from 20000 up to below the kernel's ephemeral range, so an outgoing
connection made before the service binds it cannot take it as its local port.
(tests/lib.sh's free_port.)
"""
import random, socket, sys

if len(sys.argv) != 2:
    sys.exit(__doc__)
path = sys.argv[1]
try:
    used = set(open(path).read().split())
except OSError:
    used = set()
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(2000):
    port = random.randint(20000, lo - 1)
    if str(port) in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    with open(path, "a") as f:
        f.write("%d\n" % port)
    print(port)
    sys.exit(0)
sys.exit("free_port: no free port between 20000 and %d" % (lo - 1))
