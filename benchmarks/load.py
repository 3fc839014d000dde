"""Many visitors at once: `python app.py` in a subprocess on loopback, reached through gradio_client, and in
the room phase through browser-like clients (BrowserLikeClient: Gradio's /call API over plain HTTP).

Phases (one run; on a shared CPU read the ratios and percentiles, not single numbers):
1. the room: 16 clients at once, then 32 (keys ending in _32), each one /generate and three /edit_w:
   ok_fraction, p50/p95 latencies, the phase's wall time and the CPU seconds of the server and of the clients
   (this process: on a 2-core machine they draw on the server's cores; a browser-like client costs a few ms
   a call where a gradio_client costs about 0.1 s, so since 2026-12-04 the room is measured with them,
   `room_client`); for the 16, whether every image is the same picture as the one the same call gives alone (`pixel_agreement`, by
   edits.metrics.same_picture; `pixel_exact_fraction`: the same bytes), so no cross-talk;
2. one session floods the queue (32 /generate and 4 fits), another sends one /generate: its latency;
3. bad input (NaN, Infinity and text in numeric inputs, a 160 KB template, broken characters, a CSV
   whose labels are ../ paths): every call refused in a sentence, tracebacks counted in the server log;
0. (not with --quick) the largest fit, many-seed comparison and diffusion walk a visitor may ask for,
   each alone: the limits in toyworld/settings.py are sized so that each takes <= 60 s on a 2-core CPU;
4. sustained mixed use by 4 clients (every endpoint, the long jobs included) for --minutes, RSS of the
   server sampled every few seconds: rss_start_mb (after one warm-up call of every endpoint),
   rss_peak_mb, rss_end_mb (after the load, the queue idle).
Files written outside the app's folders (the repository, and the temporary folder outside Gradio's
cache and the session folders) are counted.
"""
from __future__ import annotations

import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from edits.metrics import same_picture
from edits.pipeline import EMBEDDED_STEPS as STEPS  # what a visitor of the embedded model draws with

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ["a large circle on a white background", "a small red star on a black background",
           "a medium blue square on a gray background", "a triangle on a beige background"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def _pct(values, q) -> float:
    return round(float(np.percentile(values, q)), 3) if values else float("nan")


def _pixels(path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


class Server:
    """`python app.py` with its own temporary folders; stderr kept to count tracebacks."""

    def __init__(self, work: Path, model_path: str | None = None):
        self.work, self.port = work, _free_port()
        self.tmp, self.cache, self.sessions = work / "tmp", work / "gradio", work / "sessions"
        for p in (self.tmp, self.cache, self.sessions):
            p.mkdir(parents=True)
        env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_ANALYTICS_ENABLED": "False",
               "HF_HUB_OFFLINE": "1", "TMPDIR": str(self.tmp), "GRADIO_TEMP_DIR": str(self.cache),
               "SESSION_FILES": str(self.sessions)}
        if model_path:
            env["DIFFUSION_MODEL"] = model_path
        self.log = (work / "server.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/"

    def wait(self, limit: float = 600.0) -> None:
        import urllib.request

        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited: {self.log_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the app did not start")

    def log_text(self) -> str:
        self.log.flush()
        return (self.work / "server.log").read_text(errors="replace")

    def rss(self) -> float:
        return _rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, httpx_kwargs={"timeout": 60})


class BrowserLikeClient:
    """A visitor as a browser is one: a session of its own, each call one POST that joins the queue and one
    event stream read to its end, then each picture fetched by its URL (Gradio's documented /call API). It
    costs a few milliseconds of CPU a call, against about 0.1 s for a gradio_client (its own threads and file
    copies), so that on a 2-core machine the benchmark's clients leave the cores to the server, as a room's
    browsers, each on its own machine, do. `predict` takes what gradio_client's takes (the API's parameters in
    order, the missing trailing ones at their defaults) and returns a picture's local path, or a tuple of them."""

    def __init__(self, url: str, api: dict, folder: Path):
        import httpx
        import uuid

        self.url, self.api, self.folder = url, api, folder
        self.session = uuid.uuid4().hex[:11]
        self.http = httpx.Client(timeout=120)

    @staticmethod
    def api_info(url: str) -> dict:
        import httpx

        return httpx.get(f"{url}gradio_api/info", timeout=60).json()["named_endpoints"]

    def _args(self, api_name: str, args: tuple) -> list:
        params = self.api[api_name]["parameters"]
        if len(args) > len(params):
            raise ValueError(f"{api_name} takes {len(params)} parameters, not {len(args)}")
        missing = params[len(args):]
        if any(not q.get("parameter_has_default") for q in missing):
            raise ValueError(f"{api_name}: a parameter without a default is missing")
        return [*args, *(q.get("parameter_default") for q in missing)]

    def _fetch(self, value):
        if isinstance(value, dict) and value.get("url"):
            r = self.http.get(value["url"])
            r.raise_for_status()
            path = self.folder / f"{self.session}-{time.monotonic_ns()}{Path(value.get('path') or 'x.png').suffix}"
            path.write_bytes(r.content)
            return str(path)
        return value

    def predict(self, *args, api_name: str):
        name = api_name.strip("/")
        r = self.http.post(f"{self.url}gradio_api/call/{name}",
                           json={"data": self._args(api_name, args), "session_hash": self.session})
        r.raise_for_status()
        event, data = None, None
        with self.http.stream("GET", f"{self.url}gradio_api/call/{name}/{r.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = json.loads(line[5:])
                    break
        if event != "complete":
            raise RuntimeError(f"{api_name}: {event}: {data}")
        out = [self._fetch(v) for v in data]
        return out[0] if len(out) == 1 else tuple(out)


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    try:
        out = fn(*args, **kwargs)
        return True, time.perf_counter() - t0, out
    except Exception as e:  # noqa: BLE001  (a failed call is a measurement here)
        return False, time.perf_counter() - t0, str(e)


# ------------------------------------------------------------------ phase 0
def largest_jobs(url: str, pid: int) -> dict:
    """The largest job a visitor may ask for, each alone on the server (the limits are sized to 60 s)."""
    from toyworld.settings import MAX_COMPARE_SEEDS, MAX_DIFFUSION_FRAMES, MAX_FIT_SAMPLES

    import psutil

    c, proc = client(url), psutil.Process(pid)
    jobs = {"fit": ("a {size} {shape} on a {background} background", "colour", "classifier", MAX_FIT_SAMPLES, None,
                    "/fit_h"),
            "compare_many": (7, "large", "red", "circle", "white", "", "colour", "blue", MAX_COMPARE_SEEDS,
                             "/compare_many"),
            "diffusion_walk": ("Diffusion: between two seeds", PROMPTS[0], 1, 2, MAX_DIFFUSION_FRAMES, "colour",
                               "blue", 1.5, 8, "/walk")}
    out = {}
    for name, (*args, endpoint) in jobs.items():
        cpu = sum(proc.cpu_times()[:2])
        ok, seconds, _ = _timed(c.predict, *args, api_name=endpoint)
        cpu = sum(proc.cpu_times()[:2]) - cpu
        out[f"largest_{name}_s"] = round(seconds, 1) if ok else float("nan")
        # on a shared machine the wall time says little: the server's CPU seconds over its 2 threads are
        # what the job would take alone on 2 cores
        out[f"largest_{name}_cpu_s"] = round(cpu, 1) if ok else float("nan")
    return out


# ------------------------------------------------------------------ phase 1
def _cpu_s(pid: int | None = None) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def concurrent_clients(url: str, n: int = 16, check_pixels: bool = True, pid: int | None = None,
                       folder: Path | None = None, kind: str = "browser") -> dict:
    """n visitors at once, each a BrowserLikeClient (`kind="browser"`, pictures written to `folder`) or a
    gradio_client (`kind="gradio_client"`). With the server's `pid`, also the CPU seconds the server and this
    process (the n clients) spent on the phase: on a 2-core machine the clients share the server's cores, which a
    room's browsers, each on its own machine, do not."""
    if kind == "browser":
        api, folder = BrowserLikeClient.api_info(url), folder or Path(tempfile.mkdtemp(prefix="room-"))
        folder.mkdir(parents=True, exist_ok=True)
        clients = [BrowserLikeClient(url, api, folder) for _ in range(n)]
    elif kind == "gradio_client":  # as in the runs before 2026-12-04
        clients = [client(url) for _ in range(n)]
    else:
        raise ValueError(f"kind is 'browser' or 'gradio_client', not {kind!r}")
    cpu0 = (_cpu_s(pid), _cpu_s()) if pid else None
    t0 = time.perf_counter()

    def use(i):
        c = clients[i]
        out = {"generate": [_timed(c.predict, PROMPTS[i % 4], "", 1000 + i, STEPS, 5.0, api_name="/generate")]}
        out["edit_w"] = [_timed(c.predict, 2000 + i, 0.7, "colour", "blue", 0.5 + k / 2, api_name="/edit_w")
                         for k in range(3)]
        return out

    with ThreadPoolExecutor(n) as pool:
        got = list(pool.map(use, range(n)))
    calls = [r for g in got for rs in g.values() for r in rs]
    gen = [t for g in got for ok, t, _ in g["generate"] if ok]
    ew = [t for g in got for ok, t, _ in g["edit_w"] if ok]
    timings = {"clients": n, "room_client": kind, "ok_fraction": round(sum(ok for ok, _, _ in calls) / len(calls), 4),
               "generate_p50_s": _pct(gen, 50), "generate_p95_s": _pct(gen, 95),
               "edit_w_p50_s": _pct(ew, 50), "edit_w_p95_s": _pct(ew, 95)}
    if cpu0:
        timings.update(phase_wall_s=round(time.perf_counter() - t0, 2), server_cpu_s=round(_cpu_s(pid) - cpu0[0], 1),
                       clients_cpu_s=round(_cpu_s() - cpu0[1], 1))
    if not check_pixels:
        return timings
    # the same calls again, one at a time: the same picture (edits.metrics.same_picture) and the same bytes
    alone, same, exact = clients[0], 0, 0
    for i, g in enumerate(got):
        ok, _, path = g["generate"][0]
        if ok:
            a, b = _pixels(path), _pixels(alone.predict(PROMPTS[i % 4], "", 1000 + i, STEPS, 5.0, api_name="/generate"))
            same, exact = same + same_picture(a, b), exact + np.array_equal(a, b)
    for i, g in enumerate(got):
        ok, _, paths = g["edit_w"][2]
        ref = alone.predict(2000 + i, 0.7, "colour", "blue", 1.5, api_name="/edit_w")
        if ok:
            pairs = [(_pixels(a), _pixels(b)) for a, b in zip(paths, ref)]
            same += all(same_picture(a, b) for a, b in pairs)
            exact += all(np.array_equal(a, b) for a, b in pairs)
    return {**timings, "pixel_agreement": round(same / (2 * n), 4),
            "pixel_exact_fraction": round(exact / (2 * n), 4)}


# ------------------------------------------------------------------ phase 2
def flood(url: str) -> dict:
    from gradio_client.utils import Status

    flooder, other = client(url), client(url)
    jobs = [flooder.submit(PROMPTS[i % 4], "", i, STEPS, 5.0, api_name="/generate") for i in range(32)]
    jobs += [flooder.submit("a {size} {shape} on a {background} background", "colour", "classifier", 32, None,
                            api_name="/fit_h") for _ in range(4)]
    deadline = time.monotonic() + 120
    while any(j.status().code in (Status.STARTING, Status.JOINING_QUEUE) and not j.done() for j in jobs):
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    ok, seconds, _ = _timed(other.predict, PROMPTS[0], "", 77, STEPS, 5.0, api_name="/generate")
    done = turned = 0
    for j in jobs:
        try:
            j.result(timeout=600)
            done += 1
        except Exception:  # noqa: BLE001
            turned += 1
    return {"other_session_generate_s_during_flood": round(seconds, 3) if ok else float("nan"),
            "flood_jobs_sent": len(jobs), "flood_jobs_served": done, "flood_jobs_turned_away": turned}


# ------------------------------------------------------------------ phase 3
def _raw(url: str, name: str, args: list) -> str:
    import httpx

    r = httpx.post(f"{url}gradio_api/call{name}", content=json.dumps({"data": args}),
                   headers={"Content-Type": "application/json"}, timeout=60)
    if r.status_code != 200:
        return "refused"
    text = httpx.get(f"{url}gradio_api/call{name}/{r.json()['event_id']}", timeout=300).text
    events = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    return events[-1] if events else "none"


def bad_inputs(server: Server) -> dict:
    from gradio_client import handle_file

    url, c = server.url, client(server.url)
    api = c.view_api(return_format="dict", print_info=False)["named_endpoints"]
    before = server.log_text().count("Traceback")
    answers = []
    for name, info in sorted(api.items()):
        params = info["parameters"]
        args = [p.get("parameter_default") if p.get("parameter_has_default") else p.get("example_input")
                for p in params]
        args = [None if isinstance(a, dict) else a for a in args]
        for i, p in enumerate(params):
            if p["component"] in ("Number", "Slider"):
                for bad in (math.nan, math.inf, "abc", 1e12):
                    a = list(args)
                    a[i] = bad
                    answers.append(_raw(url, name, a))
    csv = server.work / "evil.csv"
    csv.write_text("\n".join(f"{i},{'../' * 8 + 'etc/pwned' if i % 2 else 'x'}" for i in range(16)))
    for call in (lambda: c.predict("a {shape} " * 16_000, "colour", "classifier", 16, None, api_name="/fit_h"),
                 lambda: c.predict("a circle", "\x00" * 20_000, 3, STEPS, 5.0, api_name="/generate")):
        ok, _, _ = _timed(call)
        answers.append("complete" if ok else "error")
    answers.append(_raw(url, "/generate", ["a \ud800 circle", "", 3, STEPS, 5.0]))  # a lone surrogate, as JSON
    # labels made of ../ segments: accepted, and the files stay in the session folder (files_outside_app_folders)
    _timed(c.predict, "a {colour} circle", "../" * 10 + "x", "my CSV", 16, handle_file(str(csv)), api_name="/fit_h")
    log = server.log_text()
    # "refused": turned away at the door (an HTTP error, e.g. a body that is not valid JSON text)
    return {"bad_inputs": len(answers), "bad_inputs_refused": sum(a in ("error", "refused") for a in answers),
            "tracebacks_for_bad_input": log.count("Traceback") - before}


# ------------------------------------------------------------------ phase 4
def mixed_use(url: str, seconds: float, rng: random.Random, fit_samples: int = 16) -> tuple[int, int]:
    c = client(url)
    actions = [
        (4, lambda s: c.predict(rng.choice(PROMPTS), "", s, STEPS, 5.0, api_name="/generate")),
        (6, lambda s: c.predict(s, 0.7, "colour", rng.choice(["blue", "red", "green"]), 1.0, api_name="/edit_w")),
        (2, lambda s: c.predict(PROMPTS[0], s, "colour", "blue", 1.0, api_name="/edit_h")),
        (1, lambda s: c.predict(s, "large", "red", "circle", "white", "", "colour", "blue", api_name="/compare")),
        (1, lambda s: c.predict("StyleGAN: between two seeds", "", s, s + 1, 12, "colour", "blue", 1.5, 8,
                                api_name="/walk")),
        (1, lambda s: c.predict("Diffusion: between two seeds", PROMPTS[0], s, s + 1, 4, "colour", "blue", 1.5, 8,
                                api_name="/walk")),
        (1, lambda s: c.predict("W space (StyleGAN)", 0, api_name="/atlas")),
        (1, lambda s: c.predict(s, "large", "red", "circle", "white", "", "colour", "blue", 2,
                                api_name="/compare_many")),
        # the visitor's own fit is of size: a fit replaces the shipped classes of its attribute for that session
        # (edits.directions.merged), and the calls above ask for colour: blue
        (1, lambda s: c.predict("a {colour} {shape} on a {background} background", "size", "classifier",
                                fit_samples, None, api_name="/fit_h")),
    ]
    weights = [w for w, _ in actions]
    t_end, ok, n = time.monotonic() + seconds, 0, 0
    while time.monotonic() < t_end:
        k = rng.choices(range(len(actions)), weights)[0]
        good, _, out = _timed(actions[k][1], rng.randrange(100_000))
        ok, n = ok + good, n + 1
        if not good:
            print(f"sustained: action {k} failed: {str(out)[:200]}", flush=True)
    return ok, n


def sustained(server: Server, seconds: float, clients: int = 4) -> dict:
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.monotonic(), server.rss()))
            stop.wait(5.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        res = list(pool.map(lambda i: mixed_use(server.url, seconds, random.Random(i)), range(clients)))
    stop.set()
    sampler.join()
    ok, n = sum(r[0] for r in res), sum(r[1] for r in res)
    quarter = max(1, len(samples) // 4)
    return {"sustained_s": round(time.monotonic() - t0), "sustained_calls": n,
            "sustained_ok_fraction": round(ok / max(n, 1), 4), "rss_samples": samples,
            "rss_last_quarter_median_mb": round(statistics.median(s for _, s in samples[-quarter:]), 1),
            "rss_first_quarter_median_mb": round(statistics.median(s for _, s in samples[:quarter]), 1)}


def _files_outside(server: Server, since: float) -> list[str]:
    """Files written during the run outside the app's folders (Gradio's cache, the session folders)."""
    out = []
    skip = {".git", "__pycache__", ".venv", "runs", ".pytest_cache", ".gradio"}
    for base in (ROOT, server.tmp):
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d not in skip]
            for f in filenames:
                p = Path(dirpath) / f
                try:
                    if p.stat().st_mtime > since:
                        out.append(str(p))
                except OSError:
                    pass
    return out


def run(quick: bool = False, model_path: str | None = None, minutes: float | None = None, **_) -> dict:
    seconds = 60 * (minutes if minutes is not None else (2 if quick else 20))
    with tempfile.TemporaryDirectory(prefix="load_") as work:
        server = Server(Path(work), model_path)
        try:
            server.wait()
            t_start = time.time()
            c = client(server.url)  # warm-up: one call of each kind, so that lazy set-up is not counted
            c.predict(PROMPTS[0], "", 1, STEPS, 5.0, api_name="/generate")
            c.predict(1, 0.7, "colour", "blue", 1.0, api_name="/edit_w")
            c.predict(PROMPTS[0], 1, "colour", "blue", 1.0, api_name="/edit_h")
            c.predict("StyleGAN: between two seeds", "", 1, 2, 4, "colour", "blue", 1.5, 8, api_name="/walk")
            c.predict(1, "large", "red", "circle", "white", "", "colour", "blue", api_name="/compare")
            c.predict(1, "large", "red", "circle", "white", "", "colour", "blue", 2, api_name="/compare_many")
            # a fit of size (3 classes): 16 pictures name every class on both sides of its boundary, which 16 do
            # not always do for colour's 8 (then the fit is refused with a sentence)
            c.predict("a {colour} {shape} on a {background} background", "size", "classifier", 16, None,
                      api_name="/fit_h")
            c.predict("W space (StyleGAN)", 0, api_name="/atlas")
            rss_start = server.rss()
            result = {}
            if not quick:
                result.update(largest_jobs(server.url, server.proc.pid))
                print(f"largest jobs alone: {result}", flush=True)
            room = Path(work) / "room"
            result.update(concurrent_clients(server.url, pid=server.proc.pid, folder=room))
            print(f"16 clients: {result}", flush=True)
            more = concurrent_clients(server.url, 32, check_pixels=False, pid=server.proc.pid, folder=room)
            result.update({f"{k}_32": v for k, v in more.items() if k not in ("clients", "room_client")})
            print(f"32 clients: {more}", flush=True)
            result.update(flood(server.url))
            print(f"flood: {result}", flush=True)
            result.update(bad_inputs(server))
            print(f"bad inputs: {result}", flush=True)
            sus = sustained(server, seconds)
            samples = sus.pop("rss_samples")
            result.update(sus)
            rss_end = server.rss()
            peak = max([rss_start, rss_end, *(s for _, s in samples)])
            t0 = samples[0][0] if samples else 0
            print("RSS over the sustained phase (s, MB): " +
                  " ".join(f"{t - t0:.0f}:{s:.0f}" for t, s in samples[::max(1, len(samples) // 40)]), flush=True)
            outside = _files_outside(server, t_start)
            result.update({"rss_start_mb": round(rss_start, 1), "rss_peak_mb": round(peak, 1),
                           "rss_end_mb": round(rss_end, 1), "rss_end_over_start": round(rss_end / rss_start, 3),
                           "files_outside_app_folders": len(outside),
                           "session_folders_end": len(list(server.sessions.glob("session_*"))),
                           "gradio_cache_mb_end": round(sum(p.stat().st_size for p in server.cache.rglob("*")
                                                            if p.is_file()) / 2**20, 1)})
            if outside:
                print("written outside the app's folders:", outside[:10], flush=True)
            return {"clients": result.pop("clients"), **result}
        except Exception:
            print("server log (end):\n" + server.log_text()[-3000:], file=sys.stderr)
            raise
        finally:
            server.stop()
