import { useEffect, useState } from "preact/hooks";

/**
 * Copies a value the page shows shortened (a saga id, a session id). The Clipboard API needs a
 * secure context (https or localhost); a sagad reached over plain http on another host falls
 * back to a selected hidden textarea and the copy command, which browsers still allow on a click.
 */
export function CopyButton(props: { text: string; what: string }) {
  const [said, setSaid] = useState<string | null>(null);
  useEffect(() => {
    if (said === null) return;
    const timer = setTimeout(() => setSaid(null), 1500);
    return () => clearTimeout(timer);
  }, [said]);

  const copy = async (event: Event) => {
    event.stopPropagation();
    setSaid((await copyText(props.text)) ? "Copied" : "Copy failed");
  };
  return (
    <button type="button" class="copy" onClick={(e) => void copy(e)} aria-label={`Copy ${props.what}`} title={`Copy the full ${props.what}: ${props.text}`}>
      {said ?? "Copy"}
    </button>
  );
}

async function copyText(text: string): Promise<boolean> {
  if (window.isSecureContext && navigator.clipboard) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused: try the old way below.
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  try {
    return document.execCommand("copy");
  } finally {
    area.remove();
  }
}
