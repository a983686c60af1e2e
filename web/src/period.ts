// Periods are whole UTC days, so equal periods share one server-side cache entry.

export type Preset = "this-week" | "last-week" | "this-month" | "last-90-days";

export interface Period {
  preset: Preset;
  label: string;
  from: Date;
  to: Date;
  previousFrom: Date;
  previousTo: Date;
}

export const PRESETS: { value: Preset; label: string }[] = [
  { value: "this-week", label: "This week" },
  { value: "last-week", label: "Last week" },
  { value: "this-month", label: "This month" },
  { value: "last-90-days", label: "Last 90 days" },
];

const DAY = 86_400_000;

function utcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

export function mondayOf(date: Date): Date {
  const day = utcDay(date);
  return new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY);
}

export function periodFor(preset: Preset, now: Date = new Date()): Period {
  const label = PRESETS.find((p) => p.value === preset)?.label ?? preset;
  let from: Date;
  let to: Date;
  let previousFrom: Date;
  if (preset === "this-week" || preset === "last-week") {
    from = mondayOf(now);
    if (preset === "last-week") from = new Date(from.getTime() - 7 * DAY);
    to = new Date(from.getTime() + 7 * DAY);
    previousFrom = new Date(from.getTime() - 7 * DAY);
  } else if (preset === "this-month") {
    from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    previousFrom = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  } else {
    to = new Date(utcDay(now).getTime() + DAY);
    from = new Date(to.getTime() - 90 * DAY);
    previousFrom = new Date(from.getTime() - 90 * DAY);
  }
  return { preset, label, from, to, previousFrom, previousTo: from };
}

/** The Mondays starting the weeks that overlap the period (at most `limit`, the latest). */
export function weeksOf(period: Period, limit = 14): Date[] {
  const weeks: Date[] = [];
  for (let w = mondayOf(period.from); w < period.to; w = new Date(w.getTime() + 7 * DAY)) {
    weeks.push(w);
  }
  return weeks.slice(-limit);
}

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY);
}

export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}
