import { ApiError, type FieldProblem, gql } from "./api";

/** A form's outcome: problems by input path (as the API names them), or a saved note. */
export interface Outcome {
  problems: FieldProblem[];
  message: string | null;
  saved: boolean;
}
export const NONE: Outcome = { problems: [], message: null, saved: false };

export function problemFor(outcome: Outcome, key: string): string | null {
  const hit = outcome.problems.find((p) => p.path === `input.${key}` || p.path.endsWith(`.${key}`) || p.path === key);
  return hit ? hit.message : null;
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
      {problem && (
        <p id={`${id}-error`} class="field-error" role="alert">
          {problem}
        </p>
      )}
    </div>
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
  return { problems: error.fields, message: error.fields.length ? "Fix the fields marked above." : error.message, saved: false };
}

export function FormNote({ outcome }: { outcome: Outcome }) {
  if (!outcome.message) return null;
  return (
    <p class={outcome.saved ? "note ok" : "note error"} role={outcome.saved ? "status" : "alert"}>
      {outcome.message}
    </p>
  );
}

