/**
 * The API token lives in this tab's sessionStorage only: never in a URL, a cookie or a log, and
 * gone when the tab closes. Another tab signs in on its own.
 */
const KEY = "sagad.console.token";

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null; // Storage disabled: the operator signs in again on each load.
  }
}

export function storeToken(token: string): void {
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}
