// Leads shown as people: a name (or the email, else the id) linking to the lead's own page,
// with title and company where known. Every page that names a lead uses these.
import { useEffect, useState } from "preact/hooks";

/** The fields a page asks for to show a lead as a person. */
export const PERSON_FIELDS = "id name email title company owner";

export interface Person {
  id: string;
  name: string | null;
  email: string | null;
  title: string | null;
  company: string | null;
  owner?: string | null;
}

/** The lead's own address: opening it shows the lead, and it can be shared. */
export function leadHref(id: string): string {
  return `#/pipeline/lead/${encodeURIComponent(id)}`;
}

export function displayName(person: Pick<Person, "id" | "name" | "email">): string {
  return person.name ?? person.email ?? `Lead ${person.id}`;
}

/** "VP Marketing · Acme" from what is known. */
export function personLine(person: Pick<Person, "title" | "company">): string {
  return [person.title, person.company].filter(Boolean).join(" · ");
}

/** A lead as a link to its page: the name, and title and company beneath. */
export function LeadLink({ lead, id, compact }: { lead: Person | null | undefined; id: string; compact?: boolean }) {
  const line = lead ? personLine(lead) : "";
  return (
    <span class="person">
      <a href={leadHref(id)} data-lead-link={id}>
        {lead ? displayName(lead) : `Lead ${id}`}
      </a>
      {!compact && line && <span class="muted small person-line">{line}</span>}
    </span>
  );
}

/** The path segments after the page ("#/pipeline/lead/L1" → ["lead", "L1"]), live. */
export function useRouteParams(): string[] {
  const read = () =>
    location.hash
      .replace(/^#\/?/, "")
      .split("/")
      .slice(1)
      .map((p) => decodeURIComponent(p));
  const [params, setParams] = useState(read);
  useEffect(() => {
    const onHash = () => setParams(read());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  return params;
}
