#!/usr/bin/env python3
"""Drives the built-in dashboard in headless Chromium (Debian's chromium,
chromium-driver and python3-selenium), run in the client namespace.

ui_tool.py URL HOST_PORT GROUP MEMBER SHOT_DIR
    Loads URL (the dashboard, ?secret= in it), waits for a connection row
    whose host is HOST_PORT and clicks its close button, waits for the row
    to go; opens Groups and clicks MEMBER of GROUP, waits until it is
    marked as the group's choice; opens Rules and reads the first rule's
    hit count. Prints "closed ID", "selected" and "hits N", saves
    connections.png and groups.png into SHOT_DIR. Exits non-zero (with the
    reason) on the first step that does not happen within 20 s.
"""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select


def wait(what, fn, secs=20):
    end = time.time() + secs
    while time.time() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:  # the page is still rendering
            pass
        time.sleep(0.2)
    print("timeout: " + what, flush=True)
    sys.exit(1)


def main():
    url, host, group, member, shots = sys.argv[1:6]
    o = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,800", "--no-first-run", "--disable-extensions"):
        o.add_argument(a)
    o.binary_location = "/usr/bin/chromium"
    svc = Service(executable_path="/usr/bin/chromedriver")
    d = webdriver.Chrome(options=o, service=svc)
    try:
        d.get(url)
        wait("version shown", lambda: d.find_element(By.ID, "version").text.startswith("tun2socks"))

        def row():
            for tr in d.find_elements(By.CSS_SELECTOR, "#conns tbody tr"):
                if tr.find_element(By.CSS_SELECTOR, "td").text == host:
                    return tr
            return None
        tr = wait("a connection to " + host, row)
        cid = tr.get_attribute("data-id")
        d.save_screenshot(shots + "/connections.png")
        # The table is drawn again every second: find the row by its id
        # and click in one step, again if it was replaced in between.
        def close():
            d.find_element(By.CSS_SELECTOR,
                           '#conns tbody tr[data-id="%s"] button.close' % cid).click()
            return True
        wait("close clicked", close)
        wait("row gone", lambda: not any(
            t.get_attribute("data-id") == cid for t in d.find_elements(By.CSS_SELECTOR, "#conns tbody tr")))
        print("closed " + cid, flush=True)
        d.find_element(By.CSS_SELECTOR, 'nav button[data-tab="groups"]').click()
        sel = 'button.member[data-group="%s"][data-member="%s"]' % (group, member)
        # The list is drawn again when the tab opens: click what is there
        # once it holds still.
        def click():
            d.find_element(By.CSS_SELECTOR, sel).click()
            return True
        time.sleep(0.5)
        wait("member button clicked", click)
        wait("member chosen", lambda: "now" in d.find_element(By.CSS_SELECTOR, sel).get_attribute("class"))
        print("selected", flush=True)
        d.save_screenshot(shots + "/groups.png")
        d.find_element(By.CSS_SELECTOR, 'nav button[data-tab="rules"]').click()
        hits = wait("rule hits shown", lambda: d.find_element(
            By.CSS_SELECTOR, "#rule-table tbody tr td:last-child").text)
        print("hits " + hits, flush=True)
        # Global mode from the header, then GLOBAL's member in Groups.
        Select(d.find_element(By.ID, "mode")).select_by_visible_text("global")
        wait("mode set", lambda: d.find_element(By.ID, "status").text == "mode global")
        d.find_element(By.CSS_SELECTOR, 'nav button[data-tab="groups"]').click()
        gsel = 'button.member[data-group="GLOBAL"][data-member="%s"]' % member
        def gclick():
            d.find_element(By.CSS_SELECTOR, gsel).click()
            return True
        time.sleep(0.5)
        wait("GLOBAL member clicked", gclick)
        wait("GLOBAL member chosen", lambda: "now" in d.find_element(By.CSS_SELECTOR, gsel).get_attribute("class"))
        print("global " + member, flush=True)
    finally:
        d.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
