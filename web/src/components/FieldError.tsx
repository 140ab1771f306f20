/** A server userError shown beside the input its `field` path names. */
export function FieldError({ id, messages }: { id: string; messages: string[] | undefined }) {
  if (!messages || messages.length === 0) return null;
  return (
    <div className="field-error" id={id} role="alert">
      {messages.join('; ')}
    </div>
  );
}
