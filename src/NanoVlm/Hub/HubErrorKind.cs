namespace NanoVlm.Hub;

public enum HubErrorKind
{
    RepoNotFound,
    GatedRepo,
    Unauthorized,
    EntryNotFound,
    RevisionNotFound,
    NoNetwork,
    NotCached,
    Corrupted,
    DiskFull,
    Unsafe,
    Server,
    InvalidArgument,
}
