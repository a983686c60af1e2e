// The stage and fit-grade filters that the leads (pipeline) and accounts lists share: one
// list of the API's Stage values and FitGrade letters, one way to pick them.
import { fmt } from "./format";

export const STAGES = ["AWARE", "ENGAGED", "MQL", "SQL", "OPPORTUNITY", "CUSTOMER", "NURTURE", "DISQUALIFIED", "CLOSED_LOST"];
export const GRADES = ["A", "B", "C", "D"];

// "" stands for every stage or grade (no filter).
export function StageGradeFilters({
  stage,
  grade,
  onStage,
  onGrade,
}: {
  stage: string;
  grade: string;
  onStage: (stage: string) => void;
  onGrade: (grade: string) => void;
}) {
  return (
    <>
      <label>
        <span>Stage</span>
        <select value={stage} onChange={(e) => onStage((e.target as HTMLSelectElement).value)}>
          <option value="">All stages</option>
          {STAGES.map((s) => (
            <option value={s}>{fmt.label(s)}</option>
          ))}
        </select>
      </label>
      <label>
        <span>Fit grade</span>
        <select value={grade} onChange={(e) => onGrade((e.target as HTMLSelectElement).value)}>
          <option value="">All grades</option>
          {GRADES.map((g) => (
            <option value={g}>{g}</option>
          ))}
        </select>
      </label>
    </>
  );
}
