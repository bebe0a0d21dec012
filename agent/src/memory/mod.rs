//! What digiOS remembers, in SQLite: conversations, tasks, steps, facts and the action audit.
