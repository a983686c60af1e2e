import { useState } from "preact/hooks";
import { ApiError, type FieldProblem, gql, problemText } from "./api";
import { fmt } from "./format";

/** A form's outcome: problems by input path (as the API names them), or a saved note. */
export interface Outcome {
  problems: FieldProblem[];
  message: string | null;
  saved: boolean;
}
export const NONE: Outcome = { problems: [], message: null, saved: false };

export function problemFor(outcome: Outcome, key: string): string | null {
  const hit = outcome.problems.find((p) => p.path === `input.${key}` || p.path.endsWith(`.${key}`) || p.path === key);
  return hit ? plainProblem(hit.message) : null;
}

const number = new Intl.NumberFormat("en-US");

/** A validation message of the API in the user's terms: what to enter, never "got -5.0". */
export function plainProblem(message: string): string {
  let m: RegExpMatchArray | null;
  if ((m = message.match(/must be a number of hours in \(0, (\d+)\]/))) {
    return `Enter a number of hours greater than 0 and at most ${number.format(Number(m[1]))}.`;
  }
  if ((m = message.match(/must be between (-?\d+) and (-?\d+)/))) {
    return `Enter a whole number between ${number.format(Number(m[1]))} and ${number.format(Number(m[2]))}.`;
  }
  if ((m = message.match(/must be below (A|B) \((\d+)\)/))) return `Must be lower than grade ${m[1]}'s threshold (${m[2]}).`;
  if (/must be a positive integer or null/.test(message)) return "Enter a whole number above 0, or leave it empty for no cap.";
  if (/must be a whole number|must be an integer/.test(message)) return "Enter a whole number.";
  if (/must be a non-empty string/.test(message)) return "Required.";
  if (/must be an event type name/.test(message)) return "Pick an event type.";
  if (/must be an operator name/.test(message)) return "Pick an operator.";
  // Otherwise the API's own sentence, without the raw value it echoes.
  const text = message.replace(/,? got .*$/, "");
  return text ? text[0].toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".") : message;
}

/** Checks of a form's fields before anything is sent: [path, value, rule]. An empty field
 * is "Required", a number out of range says which numbers fit. */
export function checkNumbers(fields: [string, string, { min: number; max: number; whole?: boolean; unit?: string; optional?: boolean }][]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const [path, raw, rule] of fields) {
    const text = raw.trim();
    if (text === "") {
      if (!rule.optional) problems.push({ path, message: "Required." });
      continue;
    }
    const value = Number(text);
    const unit = rule.unit ? ` ${rule.unit}` : "";
    const kind = rule.whole ? "a whole number" : "a number";
    if (!Number.isFinite(value) || (rule.whole && !Number.isInteger(value)) || value < rule.min || value > rule.max) {
      problems.push({ path, message: `Enter ${kind}${unit ? ` of${unit}` : ""} between ${number.format(rule.min)} and ${number.format(rule.max)}.` });
    }
  }
  return problems;
}

export function Field({
  id,
  label,
  value,
  onInput,
  outcome,
  problemKey,
  disabled,
  type = "number",
  step,
}: {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  outcome: Outcome;
  problemKey: string;
  disabled: boolean;
  type?: string;
  step?: string;
}) {
  const problem = problemFor(outcome, problemKey);
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        type={type}
        step={step}
        value={value}
        disabled={disabled}
        aria-invalid={problem ? "true" : undefined}
        aria-describedby={problem ? `${id}-error` : undefined}
        onInput={(e) => onInput((e.target as HTMLInputElement).value)}
      />
      <FieldError id={id} problem={problem} />
    </div>
  );
}

/** The problem a control's API calls met: `attempt` runs a call, keeps what it met, clears
 * it when the call succeeds, and says whether it did. */
export function useAttempt() {
  const [problem, setProblem] = useState<string | null>(null);
  const attempt = async (call: () => Promise<unknown>): Promise<boolean> => {
    try {
      await call();
      setProblem(null);
      return true;
    } catch (exc) {
      setProblem(problemText(exc));
      return false;
    }
  };
  return { problem, setProblem, attempt };
}

/** A field's problem, announced where it stands; `${id}-error` is what the field's
 * aria-describedby names. */
export function FieldError({ id, problem }: { id?: string; problem: string | null }) {
  if (!problem) return null;
  return (
    <p id={id ? `${id}-error` : undefined} class="field-error" role="alert">
      {problem}
    </p>
  );
}

/** A select of the API's enum values, each shown in plain words. */
export function Choice({ value, options, onPick, label }: { value: string; options: readonly string[]; onPick: (value: string) => void; label?: string }) {
  return (
    <select aria-label={label} value={value} onChange={(e) => onPick((e.target as HTMLSelectElement).value)}>
      {options.map((o) => (
        <option value={o}>{fmt.label(o)}</option>
      ))}
    </select>
  );
}

export async function submit(mutation: string, input: unknown, set: (o: Outcome) => void, after: () => void) {
  try {
    await gql(mutation, { input });
    set({ problems: [], message: "Saved. Leads are re-scored within a minute.", saved: true });
    after();
  } catch (exc) {
    set(failed(exc));
  }
}

/** A refused mutation as a form's outcome: the API's field problems go next to their fields. */
export function failed(exc: unknown): Outcome {
  const error = exc instanceof ApiError ? exc : new ApiError(String(exc), "INTERNAL");
  return { problems: error.fields, message: error.fields.length ? "Fix the fields marked above." : plainProblem(error.message), saved: false };
}

export function FormNote({ outcome }: { outcome: Outcome }) {
  if (!outcome.message) return null;
  return (
    <p class={outcome.saved ? "note ok" : "note error"} role={outcome.saved ? "status" : "alert"}>
      {outcome.message}
    </p>
  );
}

