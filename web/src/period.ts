// Periods in UTC. A period still running ("this week") ends at the next full hour, and is
// compared with the same elapsed span of the period before it (Monday 00:00–09:00 against
// last Monday 00:00–09:00), never with a whole period. Ends on the hour keep equal periods
// sharing one server-side cache entry for an hour.

export type Preset =
  | "this-week"
  | "last-week"
  | "this-month"
  | "last-month"
  | "this-quarter"
  | "last-quarter"
  | "last-90-days"
  | "custom";

export interface Period {
  preset: Preset;
  label: string;
  from: Date;
  to: Date;
  previousFrom: Date;
  previousTo: Date;
  /** True while the period runs: its end is now (to the hour), not the period's end. */
  toDate: boolean;
}

export const PRESETS: { value: Preset; label: string }[] = [
  { value: "this-week", label: "This week so far" },
  { value: "last-week", label: "Last week" },
  { value: "this-month", label: "This month so far" },
  { value: "last-month", label: "Last month" },
  { value: "this-quarter", label: "This quarter so far" },
  { value: "last-quarter", label: "Last quarter" },
  { value: "last-90-days", label: "Last 90 days" },
  { value: "custom", label: "Custom range…" },
];

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** The longest custom range: a year, so its chart stays readable (at most 13 months). */
export const MAX_CUSTOM_DAYS = 366;

function utcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

export function mondayOf(date: Date): Date {
  const day = utcDay(date);
  return new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY);
}

function monthStart(date: Date, offset = 0): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + offset, 1));
}

function quarterStart(date: Date, offset = 0): Date {
  const q = Math.floor(date.getUTCMonth() / 3);
  return new Date(Date.UTC(date.getUTCFullYear(), (q + offset) * 3, 1));
}

function nextHour(now: Date): Date {
  return new Date(Math.floor(now.getTime() / HOUR) * HOUR + HOUR);
}

export interface CustomRange {
  /** First day, YYYY-MM-DD (UTC). */
  from: string;
  /** Last day included, YYYY-MM-DD (UTC). */
  to: string;
}

/** Why a custom range cannot be used, in the user's words; null when it can. */
export function customProblem(range: CustomRange): string | null {
  if (!range.from || !range.to) return "Pick a first and a last day.";
  const from = Date.parse(`${range.from}T00:00:00Z`);
  const to = Date.parse(`${range.to}T00:00:00Z`);
  if (Number.isNaN(from) || Number.isNaN(to)) return "Enter the days as dates, e.g. 2026-11-02.";
  if (to < from) return "The last day must be on or after the first day.";
  if ((to - from) / DAY + 1 > MAX_CUSTOM_DAYS) return "Pick at most a year (366 days).";
  return null;
}

export function periodFor(preset: Preset, now: Date = new Date(), custom?: CustomRange): Period {
  const label = PRESETS.find((p) => p.value === preset)?.label ?? preset;
  // Period to date: from the period's start to the next hour, against the same span of
  // the period before (its start plus the same elapsed time).
  const soFar = (from: Date, previousFrom: Date, end: Date): Period => {
    const to = new Date(Math.min(nextHour(now).getTime(), end.getTime()));
    const elapsed = to.getTime() - from.getTime();
    const previousTo = new Date(Math.min(previousFrom.getTime() + elapsed, from.getTime()));
    return { preset, label, from, to, previousFrom, previousTo, toDate: to < end };
  };
  // A whole period against the whole period before it.
  const whole = (from: Date, to: Date, previousFrom: Date): Period => ({
    preset,
    label,
    from,
    to,
    previousFrom,
    previousTo: from,
    toDate: false,
  });
  switch (preset) {
    case "this-week": {
      const from = mondayOf(now);
      return soFar(from, new Date(from.getTime() - 7 * DAY), new Date(from.getTime() + 7 * DAY));
    }
    case "last-week": {
      const from = new Date(mondayOf(now).getTime() - 7 * DAY);
      return whole(from, new Date(from.getTime() + 7 * DAY), new Date(from.getTime() - 7 * DAY));
    }
    case "this-month":
      return soFar(monthStart(now), monthStart(now, -1), monthStart(now, 1));
    case "last-month":
      return whole(monthStart(now, -1), monthStart(now), monthStart(now, -2));
    case "this-quarter":
      return soFar(quarterStart(now), quarterStart(now, -1), quarterStart(now, 1));
    case "last-quarter":
      return whole(quarterStart(now, -1), quarterStart(now), quarterStart(now, -2));
    case "custom":
      if (custom && customProblem(custom) === null) {
        const from = new Date(`${custom.from}T00:00:00Z`);
        const to = new Date(Date.parse(`${custom.to}T00:00:00Z`) + DAY);
        const span = to.getTime() - from.getTime();
        return { ...whole(from, to, new Date(from.getTime() - span)), label: "Custom range" };
      }
      return periodFor("last-90-days", now);
    default: {
      const to = new Date(utcDay(now).getTime() + DAY);
      const from = new Date(to.getTime() - 90 * DAY);
      return whole(from, to, new Date(from.getTime() - 90 * DAY));
    }
  }
}

export interface Bucket {
  /** The bucket's label: "30 Nov" for a week, "Nov 2026" for a month. */
  label: string;
  from: Date;
  to: Date;
  /** The bucket is cut by the period's start or end. */
  partial: boolean;
  unit: "week" | "month";
}

/** The weeks (Monday to Monday) of the period, cut to the period so that the buckets add
 * up to exactly the period's figures; months when there would be more than `limit` weeks. */
export function bucketsOf(period: Period, limit = 14): Bucket[] {
  const weeks: Bucket[] = [];
  for (let w = mondayOf(period.from); w < period.to; w = new Date(w.getTime() + 7 * DAY)) {
    weeks.push(clip(period, w, new Date(w.getTime() + 7 * DAY), dayLabel(w), "week"));
  }
  if (weeks.length <= limit) return weeks;
  const months: Bucket[] = [];
  for (let m = monthStart(period.from); m < period.to; m = monthStart(m, 1)) {
    const label = m.toLocaleDateString("en-GB", { month: "short", year: "numeric", timeZone: "UTC" });
    months.push(clip(period, m, monthStart(m, 1), label, "month"));
  }
  return months;
}

function clip(period: Period, from: Date, to: Date, label: string, unit: "week" | "month"): Bucket {
  const start = from < period.from ? period.from : from;
  const end = to > period.to ? period.to : to;
  return { label, from: start, to: end, partial: start > from || end < to, unit };
}

function dayLabel(date: Date): string {
  return date.toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
}

/** "7 Dec 2026", or "7 Dec 2026, 09:00" when the instant is not midnight. */
export function describeInstant(date: Date): string {
  const day = date.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  const midnight = date.getUTCHours() === 0 && date.getUTCMinutes() === 0;
  return midnight ? day : `${day}, ${date.toISOString().slice(11, 16)}`;
}

/** A period's span in words, its end shown as the last day included (or the hour it
 * reaches while it runs): "1 Dec 2026 – 7 Dec 2026, 09:00". */
export function describeSpan(from: Date, to: Date): string {
  const midnight = to.getUTCHours() === 0 && to.getUTCMinutes() === 0;
  const end = midnight ? describeInstant(new Date(to.getTime() - DAY)) : describeInstant(to);
  return `${describeInstant(from)} – ${end}`;
}

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY);
}

export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}
