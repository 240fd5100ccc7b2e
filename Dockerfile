# One image for the worker and the simulator: `amend worker` / `amend simulator`.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md worker.py ./
COPY amendments ./amendments
COPY workflows ./workflows
COPY activities ./activities
RUN pip install --no-cache-dir .
USER nobody
CMD ["amend", "worker"]
