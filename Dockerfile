# Chatframe: the authorization server, chat app and console in one image.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN useradd --create-home --uid 10001 chatframe
COPY pyproject.toml README.md ./
COPY authserver ./authserver
COPY chatapp ./chatapp
COPY embed_static ./embed_static
COPY docs ./docs
COPY wsgi.py ./
RUN pip install --no-cache-dir . && mkdir -p keys instance && chown chatframe keys instance
USER chatframe
EXPOSE 8000
CMD ["sh", "-c", "chatframe db upgrade && chatframe serve --host 0.0.0.0 --port 8000 --workers ${CHATFRAME_WORKERS:-4}"]
