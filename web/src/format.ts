import { humanise, humaniseCampaign } from "./words";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const money = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  maximumFractionDigits: 0,
});

export const fmt = {
  int: (v: number | null | undefined) => (v == null ? "–" : integer.format(v)),
  num: (v: number | null | undefined) => (v == null ? "–" : decimal.format(v)),
  money: (v: number | null | undefined) => (v == null ? "–" : money.format(v)),
  pct: (v: number | null | undefined) => (v == null ? "–" : `${decimal.format(v * 100)}%`),
  hours: (v: number | null | undefined) => (v == null ? "–" : `${decimal.format(v)} h`),
  days: (v: number | null | undefined) => (v == null ? "–" : `${decimal.format(v)} d`),
  date: (v: string | Date | null | undefined) =>
    v == null
      ? "–"
      : new Date(v).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" }),
  dateTime: (v: string | null | undefined) =>
    v == null
      ? "–"
      : new Date(v).toLocaleString("en-GB", {
          day: "numeric",
          month: "short",
          hour: "2-digit",
          minute: "2-digit",
          timeZone: "UTC",
        }) + " UTC",
  label: (v: string) => humanise(v),
  campaign: (v: string | null | undefined) => humaniseCampaign(v),
};

/** Below this base a relative change says more about chance than about the business
 * ("▲ 14,550 %" on 2): the change is shown as an absolute difference instead. */
export const TINY_BASE = 5;

export type ChangeKind = "int" | "money" | "pct" | "days" | "hours";

export interface Change {
  /** Positive, negative or zero: the direction of the change. */
  sign: number;
  /** The change as people read it: "12.5%", "+3", "4.2 pp". */
  text: string;
  /** How it was computed, for the tooltip. */
  how: string;
}

/** The change of `current` against `previous`: rates in percentage points, counts and
 * amounts relative unless the base is tiny (then absolute); null when either is unknown. */
export function change(current: number | null, previous: number | null, kind: ChangeKind = "int"): Change | null {
  if (current == null || previous == null) return null;
  const diff = current - previous;
  const sign = Math.sign(diff);
  if (diff === 0) return { sign, text: "no change", how: "the same as in the period before" };
  if (kind === "pct") {
    const points = diff * 100;
    return { sign, text: `${decimal.format(Math.abs(points))} pp`, how: "difference in percentage points" };
  }
  if (Math.abs(previous) < TINY_BASE) {
    const abs = Math.abs(diff);
    const text = kind === "money" ? money.format(abs) : kind === "int" ? integer.format(abs) : decimal.format(abs);
    return { sign, text: `${sign < 0 ? "−" : "+"}${text}`, how: `absolute difference (the previous period's ${decimal.format(previous)} is too small a base for a percentage)` };
  }
  return { sign, text: `${decimal.format(Math.abs((diff / Math.abs(previous)) * 100))}%`, how: "relative change" };
}
