import { chromium, type Browser } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it). Playwright's own download cannot work here. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * The flags every browser test starts Chromium with: headless as root (no sandbox), no GPU, and
 * none of the background traffic that would flood a closed network with refused connections.
 * Playwright gives each launch a fresh, empty profile.
 */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** A real headless Chromium, driven by playwright-core. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}
