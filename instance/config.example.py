# Copy to instance/config.py and edit. Values here override the built-in defaults;
# CBT_* environment variables override both (e.g. CBT_DATABASE_URL, CBT_SECRET_KEY).

# PostgreSQL instead of the embedded SQLite file:
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://cbt:secret@127.0.0.1:5432/cbt"

# Where `banks import` reads from when no path is given:
# CBT_BANKS_PATH = "/srv/cbt/question_banks"

# Default interface language for pages: "id" (Bahasa Indonesia) or "en".
# BABEL_DEFAULT_LOCALE = "id"
