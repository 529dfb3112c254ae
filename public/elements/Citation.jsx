// The side panel of one citation [n]. chainlit runs this file with react-runner and
// passes the CustomElement's props as the global `props` (see rag/chat/render.py:
// citation_props). app.py copies it to public/elements/[1].jsx ... [20].jsx at start,
// because chainlit loads a CustomElement's code by the element's name.
// Everything is rendered as React text nodes, so HTML or markdown in an article stays
// inert. Never use dangerouslySetInnerHTML or the Markdown component here.
import { useEffect, useRef } from "react";

export default function Citation() {
  const firstMark = useRef(null);
  const box = useRef(null);
  useEffect(() => {
    // Long passages: bring the cited sentence into view by scrolling the passage box
    // only (scrollIntoView would also scroll the panel, and the title out of view on a
    // phone). public/chat.css makes the box the scroll container.
    const m = firstMark.current, b = box.current;
    if (m && b) b.scrollTop = Math.max(0, m.offsetTop - 24);
  }, [props]);
  const p = typeof props === "string" ? JSON.parse(props) : props || {};
  const passage = String(p.passage || "");
  const url = typeof p.url === "string" && /^https?:\/\//i.test(p.url) ? p.url : null;

  // [start, end) spans of the cited sentences, relative to the passage, sorted; and of
  // sentences flagged as instructions to AI systems (never cited: shown struck out).
  const spans = [];
  for (const sp of Array.isArray(p.highlights) ? p.highlights : []) spans.push([sp, "mark"]);
  for (const sp of Array.isArray(p.flagged) ? p.flagged : []) spans.push([sp, "flag"]);
  spans.sort((a, b) => (Number(a[0][0]) || 0) - (Number(b[0][0]) || 0));
  const parts = [];
  let at = 0;
  let marked = false;
  for (const [span, kind] of spans) {
    const s = Math.max(at, Math.min(Number(span[0]) || 0, passage.length));
    const e = Math.max(s, Math.min(Number(span[1]) || 0, passage.length));
    if (e <= s) continue;
    if (s > at) parts.push({ text: passage.slice(at, s), kind: "text" });
    parts.push({ text: passage.slice(s, e), kind, first: kind === "mark" && !marked,
                 reason: String(span[2] || "") });
    marked = marked || kind === "mark";
    at = e;
  }
  if (at < passage.length) parts.push({ text: passage.slice(at), kind: "text" });

  const meta = [p.source, p.published_label].filter((x) => x).map(String);

  return (
    <div className="citation-panel flex flex-col gap-3 text-sm" data-testid="citation-panel">
      <div className="text-base font-semibold leading-snug" data-testid="citation-title">
        {String(p.title || "")}
      </div>
      <div className="text-muted-foreground" data-testid="citation-meta">
        {meta.length ? (
          <span>
            <span data-testid="citation-source">{String(p.source || "")}</span>
            {p.source && p.published_label ? " · " : null}
            <time dateTime={String(p.published_at || "")} data-testid="citation-date">
              {String(p.published_label || "")}
            </time>
          </span>
        ) : (
          <span data-testid="citation-nometa">No source or date given</span>
        )}
      </div>
      {url ? (
        <a href={url} target="_blank" rel="noopener noreferrer nofollow"
           className="text-primary hover:underline break-all" data-testid="citation-link">
          {url}
        </a>
      ) : (
        <span className="text-muted-foreground" data-testid="citation-nolink">(no link)</span>
      )}
      <blockquote ref={box} className="border-l-2 pl-4 leading-7 whitespace-pre-wrap break-words"
                  data-testid="citation-passage">
        {parts.map((part, i) =>
          part.kind === "mark" ? (
            <mark key={i} ref={part.first ? firstMark : null}
                  className="citation-highlight rounded px-0.5"
                  data-testid="citation-highlight">{part.text}</mark>
          ) : part.kind === "flag" ? (
            <span key={i} className="citation-flagged" data-testid="citation-flagged"
                  title={"Suspected instruction to AI systems, never used: " + part.reason}>
              <span className="citation-flag-label">suspected instruction to AI: </span>
              {part.text}
            </span>
          ) : (
            <span key={i}>{part.text}</span>
          )
        )}
      </blockquote>
      <div className="text-xs text-muted-foreground" data-testid="citation-docid">
        {"article " + String(p.doc_id || "") + ", characters " + String(p.start || 0) + "–" +
          String((Number(p.start) || 0) + passage.length)}
      </div>
    </div>
  );
}
