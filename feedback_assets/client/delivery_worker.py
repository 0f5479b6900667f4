"""Entry point of the delivery process: `python -m feedback_assets.client.delivery_worker`."""

from feedback_assets.client.delivery import worker_main

if __name__ == "__main__":
    worker_main()
