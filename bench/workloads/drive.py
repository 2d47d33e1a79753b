# Workloads of Debian's own programs for the kernel validations (bench/validate-*.ts):
# python3 (a dict), redis-server, memcached and SQLite (through python3's sqlite3,
# i.e. Debian's libsqlite3). The data and the driver are here; the programs are the
# host's /usr, bound read-only into the container.
#
#   python3 drive.py KIND MIB SEED RATE WRITE [CACHE]
#     KIND   dict | redis | memcached | sqlite | sqlitefile (a database file under /data, read
#            through a 1 MiB SQLite cache: its working set is page cache)
#     MIB    about how much data to load
#     SEED   the data's seed (equal seeds load equal records)
#     RATE   operations a second once loaded (0: idle), random keys over the whole data
#     WRITE  fraction of those operations that overwrite a record (its contents change)
#     CACHE  a file read once before loading (8 MiB reads): idle clean page cache charged to it
# Prints "ready" once loaded, then "ops N" every second (operations done in it). Paced:
# up to one second of backlog is made up, beyond that it is lost, so a slowed process
# reports fewer operations.
import os, random, socket, subprocess, sys, time

kind, mib, seed, rate, write = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber basalt cobalt dune ember "
         "fjord granite harbor iris jade krypton lagoon meadow nectar onyx prairie quartz river summit").split()
rng = random.Random(seed)
if len(sys.argv) > 6:
    with open(sys.argv[6], "rb", buffering=0) as f:
        while f.read(8 << 20): pass

def record(i, r):
    # a user-ish row: text a compressor can work on, numbers, and a little noise
    words = " ".join(r.choice(WORDS) for _ in range(8))
    return f"id={i};name={r.choice(WORDS)}-{r.randrange(10**6)};score={r.random():.6f};tags={words};n={r.getrandbits(48):x}"

PER = 180  # bytes of record, about
n = max(1000, int(mib * 1024 * 1024 / (PER + 120)))

class Dict:
    def __init__(self):
        self.d = {f"key:{i}": record(i, rng) for i in range(n)}
    def get(self, i): return self.d[f"key:{i}"]
    def put(self, i, v): self.d[f"key:{i}"] = v

class Resp:
    """RESP (redis) or memcached text protocol over a unix socket, pipelined."""
    def __init__(self, path):
        for _ in range(500):
            try:
                self.s = socket.socket(socket.AF_UNIX); self.s.connect(path); break
            except OSError:
                time.sleep(0.02)
        self.f = self.s.makefile("rb")
    def send(self, b): self.s.sendall(b)
    def line(self): return self.f.readline()

class Redis:
    def __init__(self):
        self.p = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", "/tmp/redis.sock", "--save", "",
                                   "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"], stdout=subprocess.DEVNULL)
        self.c = Resp("/tmp/redis.sock")
        for lo in range(0, n, 1000):
            hi = min(n, lo + 1000)
            self.c.send(b"".join(self.cmd(b"SET", f"key:{i}".encode(), record(i, rng).encode()) for i in range(lo, hi)))
            for _ in range(lo, hi): self.c.line()
    @staticmethod
    def cmd(*a): return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
    def get(self, i):
        self.c.send(self.cmd(b"GET", f"key:{i}".encode())); h = self.c.line()
        if h[:1] == b"$" and int(h[1:]) >= 0: self.c.f.read(int(h[1:]) + 2)
    def put(self, i, v): self.c.send(self.cmd(b"SET", f"key:{i}".encode(), v.encode())); self.c.line()

class Memcached:
    def __init__(self):
        self.p = subprocess.Popen(["memcached", "-u", "root", "-s", "/tmp/mc.sock", "-m", str(int(mib * 2) + 16), "-t", "1"])
        self.c = Resp("/tmp/mc.sock")
        for lo in range(0, n, 1000):
            hi = min(n, lo + 1000)
            self.c.send(b"".join(self.cmd(i, record(i, rng).encode()) for i in range(lo, hi)))
            for _ in range(lo, hi): self.c.line()
    @staticmethod
    def cmd(i, v): return b"set key:%d 0 0 %d\r\n%s\r\n" % (i, len(v), v)
    def get(self, i):
        self.c.send(b"get key:%d\r\n" % i)
        while self.c.line() != b"END\r\n": pass
    def put(self, i, v): self.c.send(self.cmd(i, v.encode())); self.c.line()

class Sqlite:
    def __init__(self):
        import sqlite3
        self.db = sqlite3.connect(":memory:")
        self.db.execute("PRAGMA cache_size=-%d" % int(mib * 2048))
        self.db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        self.db.executemany("INSERT INTO t VALUES (?, ?)", ((i, record(i, rng)) for i in range(n)))
        self.db.commit()
    def get(self, i): self.db.execute("SELECT v FROM t WHERE id=?", (i,)).fetchone()
    def put(self, i, v): self.db.execute("UPDATE t SET v=? WHERE id=?", (v, i))

class SqliteFile(Sqlite):
    def __init__(self):
        import sqlite3
        path = f"/data/db-{seed}.sqlite"
        fresh = not os.path.exists(path)
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA cache_size=-1024")
        if fresh:
            self.db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            self.db.executemany("INSERT INTO t VALUES (?, ?)", ((i, record(i, rng)) for i in range(n)))
            self.db.commit()

store = {"sqlitefile": SqliteFile, "dict": Dict, "redis": Redis, "memcached": Memcached, "sqlite": Sqlite}[kind]()
print("ready", n, flush=True)
if rate <= 0:
    while True: time.sleep(3600)
op = random.Random(seed * 7919 + os.getpid())
tick, t0 = 0.01, time.monotonic()
done, due, second, last = 0, 0.0, int(t0), 0
while True:
    now = time.monotonic()
    due = min(due + rate * (now - t0), rate)  # at most one second of backlog
    t0 = now
    while due >= 1:
        i = op.randrange(n)
        if op.random() < write: store.put(i, record(i, op))
        else: store.get(i)
        done += 1; due -= 1
    if int(now) != second:
        print("ops", done - last, flush=True); last = done; second = int(now)
    time.sleep(tick)
