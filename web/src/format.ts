// Stage names that are acronyms stay upper case (MQL, not Mql).
const ACRONYMS = new Set(["MQL", "SQL", "SLA", "CSV"]);
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
  label: (v: string) =>
    v === "(none)" || v === "(unattributed)" || ACRONYMS.has(v)
      ? v
      : v
          .toLowerCase()
          .split("_")
          .map((w, i) => (i === 0 ? w[0].toUpperCase() + w.slice(1) : w))
          .join(" "),
};

/** Change of `current` against `previous` as a fraction, or null when there is no base. */
export function change(current: number | null, previous: number | null): number | null {
  if (current == null || previous == null || previous === 0) return null;
  return (current - previous) / Math.abs(previous);
}
