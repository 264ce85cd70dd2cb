"""The runtime context every handler and job reaches: services, sweeps, the typed App.

Ground floor: handlers, jobs and the assembly import it; it imports no feature."""
