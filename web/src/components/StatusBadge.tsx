export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`status status-${status.toLowerCase()}`} data-testid="status">
      {status}
    </span>
  );
}
