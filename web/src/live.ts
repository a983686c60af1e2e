// The leadChanges subscription over graphql-transport-ws, reconnecting with backoff.

export type LiveStatus = "connecting" | "live" | "reconnecting" | "closed";

interface LiveOptions {
  credential: string;
  onChange: () => void;
  onStatus: (status: LiveStatus, detail?: string) => void;
}

const SUBSCRIPTION = "subscription { leadChanges { leadId stage score } }";
const MAX_BACKOFF_MS = 10_000;

export function connectLive({ credential, onChange, onStatus }: LiveOptions): () => void {
  let socket: WebSocket | null = null;
  let stopped = false;
  let attempts = 0;
  let timer: number | undefined;

  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
    socket.onopen = () => {
      socket?.send(JSON.stringify({ type: "connection_init", payload: { apiKey: credential } }));
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as { type: string };
      if (message.type === "connection_ack") {
        attempts = 0;
        onStatus("live");
        socket?.send(
          JSON.stringify({ id: "lead-changes", type: "subscribe", payload: { query: SUBSCRIPTION } }),
        );
      } else if (message.type === "next") {
        onChange();
      } else if (message.type === "ping") {
        socket?.send(JSON.stringify({ type: "pong" }));
      }
    };
    socket.onclose = (event) => {
      if (stopped) return;
      // 4403/4401: the credential was refused; retrying cannot help.
      if (event.code === 4403 || event.code === 4401) {
        onStatus("closed", "Live updates were refused for this credential.");
        return;
      }
      attempts += 1;
      const wait = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(attempts, 5));
      onStatus("reconnecting", `Live connection lost; reconnecting in ${Math.round(wait / 1000)} s…`);
      timer = window.setTimeout(open, wait);
    };
  };

  onStatus("connecting");
  open();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    socket?.close(1000);
  };
}
