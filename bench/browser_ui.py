"""The page (``mzsr-tf ui``) driven in a real browser: headless Chromium through Selenium.

    apt-get install -y chromium chromium-driver     # Debian's browser and its driver; nothing is downloaded
    pip install -e ".[test]"                        # gradio, selenium
    python bench/browser_ui.py [--screenshot docs/images/ui.png] [--timing]

Starts the page as a user does (``python -m mzsr_tf.ui --port P``, a separate
process), opens it in Chromium, uploads the shipped example
(``mzsr_tf/examples/astronaut_lr_g20_x2.png``, 160×160), picks the paper kernel
g2.0 it was made with, sets one adaptation step, presses Upscale, and checks
that both images of the comparison slider arrive at 320×320, that the status
names the weights and the seconds, and that the download link is there. Then
it checks that a corrupt upload shows the command's one-line message, and
saves a screenshot for the docs. ``--timing`` also times a 256×256 ×2
10-step request on the page against the command ``mzsr-tf upscale`` on the
same file. Exits 1 on any failed check. Not collected by pytest: it needs
Chromium and takes a minute.
"""
import argparse
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLE = os.path.join(ROOT, "mzsr_tf", "examples", "astronaut_lr_g20_x2.png")
# Flags that work on a root, display-less, offline machine; a fresh profile per run.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1250")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_page(port, timeout=120):
    """``python -m mzsr_tf.ui --port PORT`` as its own process, once it answers HTTP."""
    proc = subprocess.Popen([sys.executable, "-m", "mzsr_tf.ui", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url, t0 = f"http://127.0.0.1:{port}/", time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the page exited with {proc.returncode}:\n{proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"the page did not answer on {url} within {timeout} s")


def browser(profile):
    """Debian's chromium through Debian's chromedriver (Selenium Manager kept offline)."""
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in FLAGS + (f"--user-data-dir={profile}",):
        opts.add_argument(flag)
    return webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))


class Page:
    """The page's controls, found by the ``elem_id`` values of :mod:`mzsr_tf.ui.page`."""

    def __init__(self, driver, url):
        from selenium.webdriver.support.ui import WebDriverWait

        self.d = driver
        self.d.get(url)
        self.wait = lambda seconds: WebDriverWait(self.d, seconds, poll_frequency=0.1)
        self.wait(60).until(lambda d: d.find_elements("css selector", "#run"))

    def upload(self, path, shown=True):
        """Drops a file on the image input (clearing the one before); waits for its preview unless not ``shown``."""
        for button in self.d.find_elements("css selector", "#input-file button[aria-label='Clear']"):
            button.click()
        self.wait(10).until(lambda d: d.find_elements("css selector", "#input-file input[type=file]"))
        self.d.find_element("css selector", "#input-file input[type=file]").send_keys(os.path.abspath(path))
        if shown:  # the preview shows once the server has read the file (the same reader as the run)
            name = os.path.basename(path)
            self.wait(60).until(lambda d: d.execute_script(
                "const i = document.querySelector('#input-preview img'); return i && i.naturalWidth > 0;")
                and name in d.find_element("css selector", "#input-file").text.replace("\n", ""))

    def set_steps(self, n):
        from selenium.webdriver.common.keys import Keys

        box = self.d.find_element("css selector", "#steps input[type=number]")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(str(n), Keys.TAB)
        self.wait(10).until(lambda d: box.get_attribute("value") == str(n))

    def set_kernel(self, name):
        from selenium.webdriver.common.keys import Keys

        box = self.d.find_element("css selector", "#kernel input")
        box.click()
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(name)
        option = f"li[role=option][aria-label='{name}']"
        self.wait(10).until(lambda d: d.find_elements("css selector", option))
        self.d.find_element("css selector", option).click()
        want = "no blur" if name == "none" else name  # the kernel picture's label follows the choice
        self.wait(30).until(lambda d: want in d.find_element("css selector", "#kernel-view").text)

    def status(self):
        return self.d.find_element("css selector", "#status").text

    def busy(self):
        """True while the page shows its progress indicator over the comparison."""
        return self.d.execute_script("const t = document.querySelector('#compare [data-testid=status-tracker]'); "
                                     "return !!t && !t.classList.contains('hide');")

    def run(self, timeout=600):
        """Presses Upscale; returns (seconds until the new result showed, the status text, whether the
        progress indicator was seen running)."""
        before = self.status()
        t0 = time.perf_counter()
        self.d.find_element("css selector", "#run").click()
        self.wait(30).until(lambda d: self.busy() or self.status() != before)
        seen = self.busy()
        self.wait(timeout).until(lambda d: not self.busy() and "MZSR took" in self.status())
        return time.perf_counter() - t0, self.status(), seen

    def slider_sizes(self):
        """(naturalWidth, naturalHeight) of the comparison slider's images."""
        return self.d.execute_script(
            "return [...document.querySelectorAll('#compare img')].map(i => [i.naturalWidth, i.naturalHeight]);")

    def error_text(self, timeout=120):
        """The text of Gradio's error toast, once one shows."""
        js = "const e = document.querySelector('.toast-message-text'); return e ? e.textContent.trim() : '';"
        self.wait(timeout).until(lambda d: d.execute_script(js))
        return self.d.execute_script(js)


def check(ok, what, failures):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def timing(page, work, failures):
    """A 256×256 ×2 10-step request on the page against ``mzsr-tf upscale`` on the same file."""
    import numpy as np
    from PIL import Image

    src = os.path.join(work, "photo256.png")
    Image.open(EXAMPLE).convert("RGB").resize((256, 256), Image.Resampling.LANCZOS).save(src)
    page.upload(src)
    page.set_kernel("none")
    page.set_steps(10)
    runs = []
    for i in range(2):  # the first request of the page's process also starts TensorFlow and compiles
        runs.append(page.run()[0])
        print(f"page, 256×256 ×2, 10 steps, request {i + 1}{' (first of the process)' if i == 0 else ''}: "
              f"{runs[-1]:.2f} s from click to result shown; status: {page.status().splitlines()[0]}")
    href = next(a.get_attribute("href") for a in page.d.find_elements("css selector", "#download a[href]"))
    with urllib.request.urlopen(href) as r:
        page_png = np.asarray(Image.open(io.BytesIO(r.read())))
    cmd = [shutil.which("mzsr-tf") or "mzsr-tf", "upscale", src, os.path.join(work, "cmd.png"), "--steps", "10",
           "--overwrite"]
    for i in range(2):
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        check(out.returncode == 0, f"command run {i + 1} exit 0", failures)
        print(f"command, same input: {wall:.2f} s wall (a new process); it printed: {out.stdout.strip()}")
    cmd_png = np.asarray(Image.open(os.path.join(work, "cmd.png")))
    diff = int(np.abs(cmd_png.astype(int) - page_png.astype(int)).max())
    check(cmd_png.shape == page_png.shape == (512, 512, 3) and diff <= 1,
          f"the page's download equals the command's output (512×512, largest difference {diff})", failures)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--screenshot", default=os.path.join(ROOT, "docs", "images", "ui.png"))
    p.add_argument("--timing", action="store_true", help="also time a 256×256 ×2 10-step request against the command")
    args = p.parse_args(argv)
    failures, work = [], tempfile.mkdtemp(prefix="mzsr-browser-")
    proc, url = start_page(free_port())
    driver = None
    try:
        driver = browser(os.path.join(work, "profile"))
        print(f"page {url} in {driver.capabilities.get('browserName')} {driver.capabilities.get('browserVersion')}")
        page = Page(driver, url)
        if args.timing:
            timing(page, work, failures)
        page.upload(EXAMPLE)
        page.set_kernel("g2.0")
        page.set_steps(1)
        seconds, status, busy = page.run()
        print(f"×2, 1 step, kernel g2.0 on the 160×160 example: result shown {seconds:.2f} s after the click")
        print("status: " + status.replace("\n", " | "))
        check(busy, "progress indicator shown while it adapts", failures)
        sizes = page.slider_sizes()
        check(len(sizes) == 2 and all(s == [320, 320] for s in sizes), f"slider images 320×320: {sizes}", failures)
        check(re.search(r"MZSR took \d+\.\d\d s \(1 step\(s\)\) with weights mzsr_direct_x2", status) is not None,
              "status names the seconds and the weights", failures)
        links = [a.get_attribute("href") for a in driver.find_elements("css selector", "#download a[href]")]
        check(any(h.endswith("/astronaut_lr_g20_x2_x2.png") for h in links), f"download link: {links}", failures)
        check("paper kernel g2.0" in driver.find_element("css selector", "#kernel-view").text, "kernel picture "
              "labelled", failures)
        os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(2000, height + 140))  # the whole page, not the part scrolled to
        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.5)
        driver.save_screenshot(args.screenshot)
        print(f"screenshot: {os.path.relpath(args.screenshot, ROOT)}")
        bad = os.path.join(work, "broken.png")
        with open(bad, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        page.upload(bad, shown=False)
        text = page.error_text()
        check(text.startswith("broken.png: corrupt PNG file") and "Traceback" not in text,
              f"corrupt upload: {text!r}", failures)
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'FAILED: ' + '; '.join(failures) if failures else 'all checks passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
