use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Memory, MemoryError, enum_column, now_ms, stored_enum};

stored_enum! {
    /// Who said a message.
    Role {
        System = "system",
        User = "user",
        Assistant = "assistant",
        Tool = "tool",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: i64,
    pub title: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub role: Role,
    pub content: String,
    pub created_at_ms: i64,
}

fn conversation_from_row(row: &SqliteRow) -> Result<Conversation, MemoryError> {
    Ok(Conversation {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn message_from_row(row: &SqliteRow) -> Result<Message, MemoryError> {
    Ok(Message {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        role: enum_column(row, "role")?,
        content: row.try_get("content")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

impl Memory {
    pub async fn create_conversation(&self, title: &str) -> Result<Conversation, MemoryError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO conversations (title, created_at_ms) VALUES (?, ?) \
             RETURNING id, title, created_at_ms",
        )
        .bind(title)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| self.error(err))?;
        self.commit(tx).await?;
        conversation_from_row(&row)
    }

    pub async fn get_conversation(&self, id: i64) -> Result<Conversation, MemoryError> {
        let row = sqlx::query("SELECT id, title, created_at_ms FROM conversations WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| self.error(err))?
            .ok_or(MemoryError::NotFound {
                kind: "conversation",
                id,
            })?;
        conversation_from_row(&row)
    }

    /// The most recent conversations first.
    pub async fn list_conversations(&self, limit: u32) -> Result<Vec<Conversation>, MemoryError> {
        sqlx::query("SELECT id, title, created_at_ms FROM conversations ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.error(err))?
            .iter()
            .map(conversation_from_row)
            .collect()
    }

    pub async fn append_message(
        &self,
        conversation_id: i64,
        role: Role,
        content: &str,
    ) -> Result<Message, MemoryError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO messages (conversation_id, role, content, created_at_ms) \
             VALUES (?, ?, ?, ?) \
             RETURNING id, conversation_id, role, content, created_at_ms",
        )
        .bind(conversation_id)
        .bind(role.as_str())
        .bind(content)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| self.error_or_missing(err, "conversation", conversation_id))?;
        self.commit(tx).await?;
        message_from_row(&row)
    }

    pub async fn get_message(&self, id: i64) -> Result<Message, MemoryError> {
        let row = sqlx::query(
            "SELECT id, conversation_id, role, content, created_at_ms FROM messages WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| self.error(err))?
        .ok_or(MemoryError::NotFound {
            kind: "message",
            id,
        })?;
        message_from_row(&row)
    }

    /// A conversation's messages in the order they were said.
    pub async fn list_messages(&self, conversation_id: i64) -> Result<Vec<Message>, MemoryError> {
        self.get_conversation(conversation_id).await?;
        sqlx::query(
            "SELECT id, conversation_id, role, content, created_at_ms FROM messages \
             WHERE conversation_id = ? ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|err| self.error(err))?
        .iter()
        .map(message_from_row)
        .collect()
    }
}
