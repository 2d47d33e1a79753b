# Workloads of Debian's own programs for the kernel validations (bench/validate-*.ts):
# python3 (a dict), redis-server, memcached and SQLite (through python3's sqlite3,
# i.e. Debian's libsqlite3). The data and the driver are here; the programs are the
# host's /usr, bound read-only into the container.
#
#   python3 drive.py KIND MIB SEED RATE WRITE [CACHE [PHASES]]
#     KIND   dict | redis | memcached | sqlite | sqlitefile (a database file under /data, read
#            through a 1 MiB SQLite cache: its working set is page cache)
#     MIB    about how much data to load
#     SEED   the data's seed (equal seeds load equal records)
#     RATE   operations a second once loaded (0: idle), random keys over the whole data
#     WRITE  fraction of those operations that overwrite a record (its contents change)
#     CACHE  a file read once before loading (8 MiB reads): idle clean page cache charged to it; "-": none
#     PHASES PERIOD:LOW:OFFSET (dict and redis): the data grows and shrinks by the wall clock. In
#            the phases where floor((now + OFFSET) / PERIOD) is even it holds all MIB, in the others
#            LOW % of it; the rest is dropped at once and given back to the kernel (dict: a dict of
#            its own, freed whole, so pymalloc's arenas empty and are unmapped; redis: a database of
#            its own, FLUSHDB then MEMORY PURGE, jemalloc's dirty pages returned), and reloaded over
#            about a second (a chunk each tick, between the operations) when the high phase returns.
#            Operations read keys among those loaded.
# Prints "ready" once loaded, then "ops N" every second (operations done in it). Paced:
# up to one second of backlog is made up, beyond that it is lost, so a slowed process
# reports fewer operations.
import errno, os, random, socket, subprocess, sys, time

kind, mib, seed, rate, write = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber basalt cobalt dune ember "
         "fjord granite harbor iris jade krypton lagoon meadow nectar onyx prairie quartz river summit").split()
rng = random.Random(seed)
if len(sys.argv) > 6 and sys.argv[6] != "-":
    with open(sys.argv[6], "rb", buffering=0) as f:
        while f.read(8 << 20): pass

def record(i, r):
    # a user-ish row: text a compressor can work on, numbers, and a little noise
    words = " ".join(r.choice(WORDS) for _ in range(8))
    return f"id={i};name={r.choice(WORDS)}-{r.randrange(10**6)};score={r.random():.6f};tags={words};n={r.getrandbits(48):x}"

PER = 180  # bytes of record, about
n = max(1000, int(mib * 1024 * 1024 / (PER + 120)))

class Dict:
    def __init__(self, base=None):
        self.base = n if base is None else base
        self.d = {f"key:{i}": record(i, rng) for i in range(self.base)}
        self.x = {}  # the keys above base: the part that comes and goes
    def get(self, i): return (self.d if i < self.base else self.x)[f"key:{i}"]
    def put(self, i, v): (self.d if i < self.base else self.x)[f"key:{i}"] = v
    def loaded(self): return self.base + len(self.x)
    def grow(self, hi):
        for i in range(self.loaded(), hi): self.x[f"key:{i}"] = record(i, rng)
    def drop(self): self.x = {}

class Resp:
    """RESP (redis) or memcached text protocol over a unix socket, pipelined."""
    def __init__(self, path, hello=b""):
        self.path, self.hello = path, hello  # hello: sent on every (re)connection, one reply line
        self.connect()
    def connect(self):
        for _ in range(500):
            try:
                self.s = socket.socket(socket.AF_UNIX); self.s.connect(self.path); break
            except OSError:
                self.s.close(); time.sleep(0.02)
        else:
            raise ConnectionRefusedError(f"no server on {self.path}")
        self.f = self.s.makefile("rb")
        if self.hello: self.send(self.hello); self.line()
    def ask(self, b, read):
        """Sends a request and reads its replies. When the server drops the connection (redis drops
        a client whose reply it could not write: ENOBUFS in a cgroup at its limit), reconnects and
        sends it again, as a client library with retries does: every request here is idempotent."""
        while True:
            try:
                self.send(b); return read(self)
            except (BrokenPipeError, ConnectionResetError):
                print("reconnect", file=sys.stderr, flush=True)
                self.s.close(); self.connect()
    def send(self, b):
        # ENOBUFS: the kernel could not charge the socket's buffer to a cgroup at its limit. A client
        # waits and retries (the shortage shows as lost operations), as on a full network queue.
        v = memoryview(b)
        while v:
            try:
                v = v[self.s.send(v):]
            except OSError as e:
                if e.errno != errno.ENOBUFS: raise
                time.sleep(0.01)
    def line(self):
        l = self.f.readline()
        if not l: raise ConnectionResetError("closed by the server")
        return l

class Redis:
    def __init__(self, base=None):
        self.p = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", "/tmp/redis.sock", "--save", "",
                                   "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"], stdout=subprocess.DEVNULL)
        self.c = Resp("/tmp/redis.sock")
        # the keys above base live in database 1 (its own connection): dropped whole with FLUSHDB
        self.x = Resp("/tmp/redis.sock", self.cmd(b"SELECT", b"1"))
        self.base, self.nx = (n if base is None else base), 0
        self.load(self.c, 0, self.base)
    def load(self, c, lo0, hi0):
        for lo in range(lo0, hi0, 1000):
            hi = min(hi0, lo + 1000)
            c.ask(b"".join(self.cmd(b"SET", f"key:{i}".encode(), record(i, rng).encode()) for i in range(lo, hi)),
                  lambda c: [c.line() for _ in range(lo, hi)])
    @staticmethod
    def cmd(*a): return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
    def on(self, i): return self.c if i < self.base else self.x
    @staticmethod
    def bulk(c):
        h = c.line()
        if h[:1] == b"$" and int(h[1:]) >= 0: c.f.read(int(h[1:]) + 2)
    def get(self, i): self.on(i).ask(self.cmd(b"GET", f"key:{i}".encode()), self.bulk)
    def put(self, i, v): self.on(i).ask(self.cmd(b"SET", f"key:{i}".encode(), v.encode()), lambda c: c.line())
    def loaded(self): return self.base + self.nx
    def grow(self, hi):
        self.load(self.x, self.loaded(), hi); self.nx = hi - self.base
    def drop(self):
        self.x.ask(self.cmd(b"FLUSHDB"), lambda c: c.line())
        self.x.ask(self.cmd(b"MEMORY", b"PURGE"), lambda c: c.line())
        self.nx = 0

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

phases = None
if len(sys.argv) > 7:
    period, low, offset = (float(x) for x in sys.argv[7].split(":"))
    base = max(1, int(n * low / 100))
    phases = (period, offset, base)
    store = {"dict": Dict, "redis": Redis}[kind](base)
    chunk = max(200, (n - base) // 100)  # reloaded over about 100 ticks
else:
    store = {"sqlitefile": SqliteFile, "dict": Dict, "redis": Redis, "memcached": Memcached, "sqlite": Sqlite}[kind]()
high = lambda now: phases is None or int((now + phases[1]) // phases[0]) % 2 == 0
if phases is not None and high(time.time()): store.grow(n)
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
    if phases is not None:
        if high(time.time()):
            if store.loaded() < n: store.grow(min(n, store.loaded() + chunk))
        elif store.loaded() > phases[2]: store.drop()
    live = n if phases is None else store.loaded()
    while due >= 1:
        i = op.randrange(live)
        if op.random() < write: store.put(i, record(i, op))
        else: store.get(i)
        done += 1; due -= 1
    if int(now) != second:
        print("ops", done - last, flush=True); last = done; second = int(now)
    time.sleep(tick)
